-- Merge-PATCH existing ConfigMaps round-robin (PREFIX-LOW..PREFIX-HIGH), each time a new value:
-- every request is a real update (compare, record the field manager, store a new revision).
dofile(os.getenv("WRK_DIR") .. "/report.lua")
local token = os.getenv("API_TOKEN")
local prefix = os.getenv("NAME_PREFIX") or "cm"
local low = tonumber(os.getenv("LOW"))
local high = tonumber(os.getenv("HIGH"))
local n = high
local round = 0
request = function()
  if n >= high then
    n = low
    round = round + 1
  else
    n = n + 1
  end
  local body = string.format('{"data":{"index":"%d-%d"}}', n, round)
  return wrk.format("PATCH",
    string.format("/api/v1/namespaces/bench/configmaps/%s-%d?fieldManager=bench", prefix, n),
    {["Authorization"] = "Bearer " .. token,
     ["Content-Type"] = "application/merge-patch+json"}, body)
end
