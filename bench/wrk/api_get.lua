-- GET existing ConfigMaps round-robin, named PREFIX-LOW..PREFIX-HIGH.
dofile(os.getenv("WRK_DIR") .. "/report.lua")
local token = os.getenv("API_TOKEN")
local prefix = os.getenv("NAME_PREFIX") or "cm"
local low = tonumber(os.getenv("LOW"))
local high = tonumber(os.getenv("HIGH"))
local n = high
request = function()
  n = n >= high and low or n + 1
  return wrk.format("GET", string.format("/api/v1/namespaces/bench/configmaps/%s-%d", prefix, n),
    {["Authorization"] = "Bearer " .. token})
end
