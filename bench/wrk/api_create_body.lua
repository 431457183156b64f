-- POST a new object per request: the JSON in BODY_FILE with its name placeholder
-- replaced by NAME_PREFIX-<n> (unique names), to API_PATH, with the token from the environment.
dofile(os.getenv("WRK_DIR") .. "/report.lua")
local token = os.getenv("API_TOKEN")
local prefix = os.getenv("NAME_PREFIX") or "cr"
local path = os.getenv("API_PATH")
local file = assert(io.open(os.getenv("BODY_FILE"), "rb"))
local template = file:read("*a")
file:close()
local at = assert(string.find(template, "__NAME__", 1, true), "BODY_FILE has no __NAME__")
local head, tail = string.sub(template, 1, at - 1), string.sub(template, at + 8)
local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", path, headers, head .. prefix .. "-" .. n .. tail)
end
