-- The anchor: etcd's own HTTP/JSON gateway, put of a same-sized value or range of one key.
dofile(os.getenv("WRK_DIR") .. "/report.lua")
local op = os.getenv("ETCD_OP")
local count = tonumber(os.getenv("COUNT") or "1000")
local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64(s)
  return ((s:gsub(".", function(x)
    local r, b = "", x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return chars:sub(c + 1, c + 1)
  end) .. ({"", "==", "="})[#s % 3 + 1])
end
local value = b64(string.rep("x", 400))
local n = 0
request = function()
  n = n % count + 1
  local key = b64(string.format("/anchor/%08d", n))
  if op == "put" then
    return wrk.format("POST", "/v3/kv/put", {["Content-Type"] = "application/json"},
      string.format('{"key":"%s","value":"%s"}', key, value))
  end
  return wrk.format("POST", "/v3/kv/range", {["Content-Type"] = "application/json"},
    string.format('{"key":"%s"}', key))
end
