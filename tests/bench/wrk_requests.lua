-- wrk script for bench_server: sends pre-signed raw HTTP requests read from a file.
-- The file holds "<length>\n<request bytes>" records; args: the file, the number of threads.
-- Each thread takes every n-th record, so no request is sent twice.
local counter = 0
local requests = {}
local index = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local data = file:read("*a")
  file:close()
  local threads = tonumber(args[2])
  local pos, k = 1, 0
  while pos <= #data do
    local newline = data:find("\n", pos, true)
    local length = tonumber(data:sub(pos, newline - 1))
    if k % threads == id then
      requests[#requests + 1] = data:sub(newline + 1, newline + length)
    end
    k = k + 1
    pos = newline + 1 + length
  end
end

function request()
  index = index % #requests + 1
  return requests[index]
end
