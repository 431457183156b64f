-- POST a new object per request: the body in BODY_FILE (JSON, or protobuf with CONTENT_TYPE)
-- with its name placeholder replaced by NAME_PREFIX-<n> (unique names), to API_PATH, with the
-- token from the environment. With FIXED_NAME set, <n> is zero-padded so that the name is as
-- long as the 8-byte placeholder: a protobuf body's lengths then stay right.
dofile(os.getenv("WRK_DIR") .. "/report.lua")
local token = os.getenv("API_TOKEN")
local prefix = os.getenv("NAME_PREFIX") or "cr"
local path = os.getenv("API_PATH")
local fixed = os.getenv("FIXED_NAME")
local file = assert(io.open(os.getenv("BODY_FILE"), "rb"))
local template = file:read("*a")
file:close()
local at = assert(string.find(template, "__NAME__", 1, true), "BODY_FILE has no __NAME__")
local head, tail = string.sub(template, 1, at - 1), string.sub(template, at + 8)
local headers = {
  ["Authorization"] = "Bearer " .. token,
  ["Content-Type"] = os.getenv("CONTENT_TYPE") or "application/json",
  ["Accept"] = os.getenv("ACCEPT") or "application/json",
}
local n = 0
request = function()
  n = n + 1
  local name = prefix .. "-" .. n
  if fixed then
    name = string.format("%s-%0" .. (7 - #prefix) .. "d", prefix, n)
  end
  return wrk.format("POST", path, headers, head .. name .. tail)
end
