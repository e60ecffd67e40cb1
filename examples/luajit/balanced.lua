-- balanced.lua — lbchannel from LuaJIT's FFI on ONE thread, with no callback at all
-- (LuaJIT must never be called from a foreign thread): the header is parsed by
-- ffi.cdef after `cc -E -P -DLBC_NO_SYSTEM_INCLUDES`, discovery is answered from the
-- completion queue (LBC_EVENT_LOOKUP), log lines are taken from it (LBC_EVENT_LOG),
-- then balanced asynchronous unary calls and a server-streaming call against
-- grpc.testing.TestService backends (`make test` runs it via Tests/c/run-interop.sh).
--
--   cc -E -P -DLBC_NO_SYSTEM_INCLUDES -x c lbchannel.h > lbchannel_cdef.h
--   luajit balanced.lua lbchannel_cdef.h liblbchannel.so.1 ipv4:127.0.0.2:50051,127.0.0.3:50051
local ffi = require("ffi")
local cdef_path, lib_path, target = arg[1], arg[2], arg[3]
assert(cdef_path and lib_path and target, "usage: balanced.lua CDEF_HEADER LIBRARY ipv4:ADDR:PORT[,...]")
local f = assert(io.open(cdef_path))
ffi.cdef(f:read("*a"))
f:close()
local L = ffi.load(lib_path)

local function check(rc, what)
  if rc ~= L.LBC_OK then
    error(string.format("%s: %s (%s)", what, ffi.string(L.lbc_strerror(rc)), ffi.string(L.lbc_last_errmsg())))
  end
end

-- The "registry" answer: the addresses of the ipv4: target.
local backends = {}
for addr in target:sub(6):gmatch("[^,]+") do backends[#backends + 1] = addr end

local cqp = ffi.new("lbc_cq *[1]")
check(L.lbc_cq_new(cqp), "lbc_cq_new")
local cq = ffi.gc(cqp[0], L.lbc_cq_free)
local LOOKUP_TAG, LOG_TAG = ffi.cast("void *", 1), ffi.cast("void *", 2)
local optsp = ffi.new("lbc_options *[1]")
check(L.lbc_options_new(optsp), "lbc_options_new")
local opts = optsp[0]
check(L.lbc_options_set_lb_policy(opts, L.LBC_LB_ROUND_ROBIN), "lb_policy")
check(L.lbc_options_set_lookup_queue(opts, cq, LOOKUP_TAG), "lbc_options_set_lookup_queue")
check(L.lbc_options_set_log_queue(opts, cq, LOG_TAG), "lbc_options_set_log_queue")
local chp = ffi.new("lbc_channel *[1]")
check(L.lbc_channel_open("registry:///interop-backends", opts, chp), "lbc_channel_open")
L.lbc_options_free(opts)
local ch = chp[0]

local function ready_endpoints()  -- no stats JSON to parse
  local n = 0
  for _, addr in ipairs(backends) do
    if L.lbc_channel_endpoint_connectivity(ch, addr) == L.LBC_CONN_READY then n = n + 1 end
  end
  return n
end

local CALLS = 30
local request = "\16\10" -- SimpleRequest{response_size: 10}
local events = ffi.new("lbc_event[16]")
local served, ok, done, started, lookups, log_lines = {}, 0, 0, 0, 0, 0
local level, line = ffi.new("int[1]"), ffi.new("char *[1]")
for spins = 1, 1000 do
  if done >= CALLS then break end
  local n = L.lbc_cq_poll(cq, events, ffi.sizeof("lbc_event"), 16, 100)
  assert(n >= 0, "lbc_cq_poll failed")
  for i = 0, n - 1 do
    local ev = events[i]
    if ev.kind == L.LBC_EVENT_LOOKUP then
      local texts = ffi.new("const char *[?]", #backends)
      for k, b in ipairs(backends) do texts[k - 1] = b end
      check(L.lbc_channel_answer_lookup(ch, texts, #backends, nil), "lbc_channel_answer_lookup")
      lookups = lookups + 1
    elseif ev.kind == L.LBC_EVENT_LOG then
      while L.lbc_channel_next_log(ch, level, line) == L.LBC_OK do
        print(string.format("  log %d: %s", level[0], ffi.string(line[0])))
        L.lbc_free(line[0])
        log_lines = log_lines + 1
      end
    elseif ev.kind == L.LBC_EVENT_UNARY then
      local resp = ev.response
      done = done + 1
      if L.lbc_response_status(resp) == L.LBC_STATUS_OK then
        ok = ok + 1
        local peer = ffi.string(L.lbc_response_peer(resp))
        served[peer] = (served[peer] or 0) + 1
      end
      L.lbc_response_free(resp)
    end
  end
  -- Start the calls once every discovered endpoint is READY (at most ~5 s).
  if lookups > 0 and (started > 0 or ready_endpoints() >= #backends or spins > 50) then
    while started < CALLS do
      check(L.lbc_unary_async(ch, "/grpc.testing.TestService/UnaryCall", request, #request, nil, 5000, cq,
                              nil, nil), "lbc_unary_async")
      started = started + 1
    end
  end
end
local spread, summary = 0, {}
for peer, count in pairs(served) do
  spread = spread + 1
  summary[#summary + 1] = peer .. "=" .. count
end
table.sort(summary)
print(string.format("unary: %d of %d OK after %d lookup(s), %d log line(s); by backend: %s", ok, CALLS, lookups,
                    log_lines, table.concat(summary, " ")))
assert(ok == CALLS and spread == #backends, "expected every call OK and spread over every backend")

-- Server streaming: three responses of 5, 6 and 7 bytes.
local stream_request = "\18\2\8\5\18\2\8\6\18\2\8\7"
local callp = ffi.new("lbc_call *[1]")
check(L.lbc_call_start(ch, "/grpc.testing.TestService/StreamingOutputCall", nil, 5000, nil, nil, callp),
      "lbc_call_start")
local call = callp[0]
check(L.lbc_call_send(call, stream_request, #stream_request, L.LBC_SEND_END, 5000), "lbc_call_send")
local message, len, messages = ffi.new("void *[1]"), ffi.new("size_t[1]"), 0
local rc
repeat
  rc = L.lbc_call_recv(call, 5000, message, len)
  if rc == L.LBC_OK then
    messages = messages + 1
    L.lbc_free(message[0])
  end
until rc ~= L.LBC_OK
assert(rc == L.LBC_END, "lbc_call_recv: " .. ffi.string(L.lbc_strerror(rc)))
local status = ffi.new("int[1]")
check(L.lbc_call_finish(call, 5000, status, nil, nil), "lbc_call_finish")
print(string.format("server streaming: %d messages, %s from %s", messages, ffi.string(L.lbc_status_name(status[0])),
                    ffi.string(L.lbc_call_peer(call))))
assert(messages == 3 and status[0] == L.LBC_STATUS_OK, "server streaming failed")
L.lbc_call_free(call)
L.lbc_channel_close(ch)
print("balanced.lua: OK")
