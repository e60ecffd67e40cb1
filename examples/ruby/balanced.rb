# balanced.rb — lbchannel from Ruby (ruby-ffi) on one thread with no callback:
# discovery answered from the completion queue (LBC_EVENT_LOOKUP), log lines taken
# from it (LBC_EVENT_LOG), balanced asynchronous unary calls, a server-streaming call.
# Every function that may wait is attached with `blocking: true`, so Ruby's GVL is
# released while it waits (the header's rule for runtimes with a global lock).
# `make test` runs it against grpc.testing.TestService backends (Tests/c/run-interop.sh):
#   ruby balanced.rb liblbchannel.so.1 ipv4:127.0.0.2:50051,127.0.0.3:50051
require "ffi"

module LBC
  extend FFI::Library
  ffi_lib ARGV.fetch(0)
  OK = 0
  ERR_WOULD_BLOCK = -13
  END_OF_STREAM = 1
  EVENT_UNARY, EVENT_CALL, EVENT_LOG, EVENT_LOOKUP = 1, 2, 3, 4
  LB_ROUND_ROBIN = 1
  SEND_END = 1
  STATUS_OK = 0
  CONN_READY = 2 # lbc_connectivity_state

  # struct lbc_event { void *tag; int kind; unsigned flags; lbc_response *response; }
  class Event < FFI::Struct
    layout :tag, :pointer, :kind, :int, :flags, :uint, :response, :pointer
  end

  attach_function :lbc_strerror, [:int], :string
  attach_function :lbc_last_errmsg, [], :string
  attach_function :lbc_free, [:pointer], :void
  attach_function :lbc_status_name, [:int], :string
  attach_function :lbc_cq_new, [:pointer], :int
  attach_function :lbc_cq_free, [:pointer], :void
  attach_function :lbc_cq_poll, [:pointer, :pointer, :size_t, :int, :int64], :int, blocking: true
  attach_function :lbc_options_new, [:pointer], :int
  attach_function :lbc_options_free, [:pointer], :void
  attach_function :lbc_options_set_lb_policy, [:pointer, :int], :int
  attach_function :lbc_options_set_lookup_queue, [:pointer, :pointer, :pointer], :int
  attach_function :lbc_options_set_log_queue, [:pointer, :pointer, :pointer], :int
  attach_function :lbc_channel_open, [:string, :pointer, :pointer], :int, blocking: true
  attach_function :lbc_channel_close, [:pointer], :void, blocking: true
  attach_function :lbc_channel_endpoint_connectivity, [:pointer, :string], :int, blocking: true
  attach_function :lbc_channel_answer_lookup, [:pointer, :pointer, :size_t, :string], :int
  attach_function :lbc_channel_next_log, [:pointer, :pointer, :pointer], :int
  attach_function :lbc_unary_async, [:pointer, :string, :pointer, :size_t, :pointer, :int64, :pointer, :pointer, :pointer], :int
  attach_function :lbc_response_status, [:pointer], :int
  attach_function :lbc_response_peer, [:pointer], :string
  attach_function :lbc_response_free, [:pointer], :void
  attach_function :lbc_call_start, [:pointer, :string, :pointer, :int64, :pointer, :pointer, :pointer], :int
  attach_function :lbc_call_send, [:pointer, :pointer, :size_t, :uint, :int64], :int, blocking: true
  attach_function :lbc_call_recv, [:pointer, :int64, :pointer, :pointer], :int, blocking: true
  attach_function :lbc_call_finish, [:pointer, :int64, :pointer, :pointer, :pointer], :int, blocking: true
  attach_function :lbc_call_peer, [:pointer], :string
  attach_function :lbc_call_free, [:pointer], :void, blocking: true

  def self.check(rc, what)
    raise "#{what}: #{lbc_strerror(rc)} (#{lbc_last_errmsg})" unless rc == OK
  end
end

def bytes(str)
  mem = FFI::MemoryPointer.new(:uint8, [str.bytesize, 1].max)
  mem.put_bytes(0, str)
  mem
end

target = ARGV.fetch(1)
backends = target.sub(/\Aipv4:/, "").split(",")
out = FFI::MemoryPointer.new(:pointer)
LBC.check(LBC.lbc_cq_new(out), "lbc_cq_new")
cq = out.read_pointer
lookup_tag, log_tag = FFI::Pointer.new(1), FFI::Pointer.new(2)
LBC.check(LBC.lbc_options_new(out), "lbc_options_new")
opts = out.read_pointer
LBC.check(LBC.lbc_options_set_lb_policy(opts, LBC::LB_ROUND_ROBIN), "lb_policy")
LBC.check(LBC.lbc_options_set_lookup_queue(opts, cq, lookup_tag), "lookup queue")
LBC.check(LBC.lbc_options_set_log_queue(opts, cq, log_tag), "log queue")
LBC.check(LBC.lbc_channel_open("registry:///interop-backends", opts, out), "lbc_channel_open")
LBC.lbc_options_free(opts)
ch = out.read_pointer

ready = lambda do # no stats JSON to parse
  backends.count { |addr| LBC.lbc_channel_endpoint_connectivity(ch, addr) == LBC::CONN_READY }
end

calls = 30
request = bytes("\x10\x0a".b) # SimpleRequest{response_size: 10}
events = FFI::MemoryPointer.new(LBC::Event, 16)
served = Hash.new(0)
ok = done = started = lookups = log_lines = 0
level, line = FFI::MemoryPointer.new(:int), FFI::MemoryPointer.new(:pointer)
1.upto(1000) do |spins|
  break if done >= calls
  n = LBC.lbc_cq_poll(cq, events, LBC::Event.size, 16, 100)
  raise "lbc_cq_poll: #{n}" if n < 0
  n.times do |i|
    ev = LBC::Event.new(events + i * LBC::Event.size)
    case ev[:kind]
    when LBC::EVENT_LOOKUP
      strings = backends.map { |b| FFI::MemoryPointer.from_string(b) }
      array = FFI::MemoryPointer.new(:pointer, strings.size)
      array.write_array_of_pointer(strings)
      LBC.check(LBC.lbc_channel_answer_lookup(ch, array, strings.size, nil), "lbc_channel_answer_lookup")
      lookups += 1
    when LBC::EVENT_LOG
      while LBC.lbc_channel_next_log(ch, level, line) == LBC::OK
        puts "  log #{level.read_int}: #{line.read_pointer.read_string}"
        LBC.lbc_free(line.read_pointer)
        log_lines += 1
      end
    when LBC::EVENT_UNARY
      resp = ev[:response]
      done += 1
      if LBC.lbc_response_status(resp) == LBC::STATUS_OK
        ok += 1
        served[LBC.lbc_response_peer(resp)] += 1
      end
      LBC.lbc_response_free(resp)
    end
  end
  # Start the calls once every discovered endpoint is READY (at most ~5 s).
  next unless lookups > 0 && (started > 0 || ready.call >= backends.size || spins > 50)
  while started < calls
    LBC.check(LBC.lbc_unary_async(ch, "/grpc.testing.TestService/UnaryCall", request, 2, nil, 5000, cq, nil, nil),
              "lbc_unary_async")
    started += 1
  end
end
puts "unary: #{ok} of #{calls} OK after #{lookups} lookup(s), #{log_lines} log line(s); by backend: " +
     served.sort.map { |peer, count| "#{peer}=#{count}" }.join(" ")
raise "expected every call OK and spread over every backend" unless ok == calls && served.size == backends.size

# Server streaming: three responses of 5, 6 and 7 bytes.
stream_request = "\x12\x02\x08\x05\x12\x02\x08\x06\x12\x02\x08\x07".b
LBC.check(LBC.lbc_call_start(ch, "/grpc.testing.TestService/StreamingOutputCall", nil, 5000, nil, nil, out),
          "lbc_call_start")
call = out.read_pointer
LBC.check(LBC.lbc_call_send(call, bytes(stream_request), stream_request.bytesize, LBC::SEND_END, 5000), "send")
message, len = FFI::MemoryPointer.new(:pointer), FFI::MemoryPointer.new(:size_t)
messages = 0
while (rc = LBC.lbc_call_recv(call, 5000, message, len)) == LBC::OK
  messages += 1
  LBC.lbc_free(message.read_pointer)
end
raise "lbc_call_recv: #{LBC.lbc_strerror(rc)}" unless rc == LBC::END_OF_STREAM
status = FFI::MemoryPointer.new(:int)
LBC.check(LBC.lbc_call_finish(call, 5000, status, nil, nil), "lbc_call_finish")
puts "server streaming: #{messages} messages, #{LBC.lbc_status_name(status.read_int)} from #{LBC.lbc_call_peer(call)}"
raise "server streaming failed" unless messages == 3 && status.read_int == LBC::STATUS_OK
LBC.lbc_call_free(call)
LBC.lbc_channel_close(ch)
LBC.lbc_cq_free(cq)
puts "balanced.rb: OK"
