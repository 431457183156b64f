-- POST a new ConfigMap per request (unique names), with the token from the environment.
dofile(os.getenv("WRK_DIR") .. "/report.lua")
local token = os.getenv("API_TOKEN")
local prefix = os.getenv("NAME_PREFIX") or "cm"
local payload = string.rep("x", 256)
local n = 0
request = function()
  n = n + 1
  local body = string.format(
    '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s-%d"},"data":{"payload":"%s"}}',
    prefix, n, payload)
  return wrk.format("POST", "/api/v1/namespaces/bench/configmaps",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
