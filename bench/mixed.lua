-- The mixed workload of bench/bench_serve.py for wrk: one sync.so create (a schema-valid
-- JSON body, so the server validates it fully) for every POLLS polls of a recently created
-- generation. Each wrk thread keeps its own ring of created ids.
local POLLS = tonumber(os.getenv("BENCH_POLLS") or "4")
local KEY = os.getenv("BENCH_API_KEY") or "sk_bench"
local body = '{"model":"lipsync-2","input":[{"type":"video","url":"https://cdn.example/v.mp4?duration=6"},'
  .. '{"type":"audio","url":"https://cdn.example/a.wav?duration=6"}],"options":{"sync_mode":"cut_off"},'
  .. '"outputFileName":"bench"}'
local ids = {}
local n = 0
local created = 0

local function create()
  return wrk.format("POST", "/v2/generate", {["Content-Type"] = "application/json", ["x-api-key"] = KEY}, body)
end

request = function()
  n = n + 1
  if #ids == 0 or n % (POLLS + 1) == 1 then
    return create()
  end
  local id = ids[math.random(#ids)]
  return wrk.format("GET", "/v2/generate/" .. id, {["x-api-key"] = KEY})
end

response = function(status, headers, rbody)
  if status == 201 then
    local id = string.match(rbody, '"id"%s*:%s*"([^"]+)"')
    -- a stateless mock (Prism) answers with its example's id: poll a valid UUID instead
    if id and not string.match(id, "^%x+%-%x+%-%x+%-%x+%-%x+$") then
      id = "6f1c0c8e-0000-4000-8000-000000000000"
    end
    if id then
      created = created + 1
      ids[(created - 1) % 64 + 1] = id
    end
  end
end
