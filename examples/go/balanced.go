// balanced.go — lbchannel from Go (cgo) with no callback at all: discovery answered
// from the completion queue (LBC_EVENT_LOOKUP), readiness from a connectivity watch
// (LBC_EVENT_CONNECTIVITY) instead of parsing stats, balanced asynchronous unary
// calls (LBC_EVENT_UNARY), then a blocking server-streaming call. Error messages are
// read with lbc_channel_errmsg_copy, which does not depend on the OS thread: a
// goroutine may move between threads between two cgo calls, so the per-thread
// lbc_last_errmsg() could give another call's message.
//
// Runs against grpc.testing.TestService backends (Tests/interop/server.py; `make
// test` runs it through Tests/c/run-interop.sh):
//
//	PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig go build -o balanced-go .
//	./balanced-go ipv4:127.0.0.2:50051,127.0.0.3:50051
package main

/*
#cgo pkg-config: lbchannel
#include <stdlib.h>
#include <lbchannel.h>
*/
import "C"

import (
	"fmt"
	"os"
	"strings"
	"unsafe"
)

const (
	unaryMethod  = "/grpc.testing.TestService/UnaryCall"
	streamMethod = "/grpc.testing.TestService/StreamingOutputCall"
	calls        = 30
	eventBatch   = 16
)

// channelError is a failed lbc_* call on a channel, with the channel's message.
func channelError(ch *C.lbc_channel, what string, rc C.int) error {
	var buf [512]C.char
	msg := ""
	if ch != nil && C.lbc_channel_errmsg_copy(ch, &buf[0], C.size_t(len(buf))) >= 0 {
		msg = C.GoString(&buf[0])
	}
	return fmt.Errorf("%s: %s (%s)", what, C.GoString(C.lbc_strerror(rc)), msg)
}

// cStrings copies texts into C memory (cgo may not pass Go pointers to Go pointers);
// free releases them.
func cStrings(texts []string) (**C.char, func()) {
	n := len(texts)
	if n == 0 {
		return nil, func() {}
	}
	array := (**C.char)(C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	slots := unsafe.Slice(array, n)
	for i, t := range texts {
		slots[i] = C.CString(t)
	}
	return array, func() {
		for _, p := range slots {
			C.free(unsafe.Pointer(p))
		}
		C.free(unsafe.Pointer(array))
	}
}

func run(target string) error {
	// The "registry" of this example: the addresses of the ipv4: target.
	backends := strings.Split(strings.TrimPrefix(target, "ipv4:"), ",")

	// Tags are C memory, so no Go pointer is ever stored in the library.
	lookupTag := C.malloc(1)
	watchTag := C.malloc(1)
	defer C.free(lookupTag)
	defer C.free(watchTag)
	// The event array lives in C memory too (the library writes pointers into it).
	events := (*C.lbc_event)(C.calloc(eventBatch, C.sizeof_lbc_event))
	defer C.free(unsafe.Pointer(events))
	slots := unsafe.Slice(events, eventBatch)

	var cq *C.lbc_cq
	if rc := C.lbc_cq_new(&cq); rc != C.LBC_OK {
		return channelError(nil, "lbc_cq_new", rc)
	}
	defer C.lbc_cq_free(cq)
	var opts *C.lbc_options
	if rc := C.lbc_options_new(&opts); rc != C.LBC_OK {
		return channelError(nil, "lbc_options_new", rc)
	}
	C.lbc_options_set_lb_policy(opts, C.LBC_LB_ROUND_ROBIN)
	C.lbc_options_set_lookup_queue(opts, cq, lookupTag)
	name := C.CString("registry:///interop-backends")
	defer C.free(unsafe.Pointer(name))
	var ch *C.lbc_channel
	rc := C.lbc_channel_open(name, opts, &ch)
	C.lbc_options_free(opts)
	if rc != C.LBC_OK {
		return channelError(nil, "lbc_channel_open", rc)
	}
	closed := false
	defer func() {
		if !closed {
			C.lbc_channel_close(ch)
		}
	}()
	var watch *C.lbc_connectivity_watch
	if rc := C.lbc_channel_watch_connectivity(ch, cq, watchTag, C.LBC_WATCH_ENDPOINTS, &watch); rc != C.LBC_OK {
		return channelError(ch, "lbc_channel_watch_connectivity", rc)
	}
	defer C.lbc_connectivity_watch_free(watch)

	// A refused request, to show the error path: the message comes from the channel,
	// whichever OS thread this goroutine runs on now.
	bad := C.CString("no-leading-slash")
	rc = C.lbc_unary_async(ch, bad, nil, 0, nil, 1000, cq, nil, nil)
	C.free(unsafe.Pointer(bad))
	if rc != C.LBC_ERR_INVALID_ARGUMENT {
		return fmt.Errorf("a bad method path returned %d, expected LBC_ERR_INVALID_ARGUMENT", int(rc))
	}
	if err := channelError(ch, "lbc_unary_async", rc); !strings.Contains(err.Error(), "no-leading-slash") {
		return fmt.Errorf("lbc_channel_errmsg_copy did not name the bad path: %v", err)
	}

	request := C.CBytes([]byte{0x10, 10}) // SimpleRequest{response_size: 10}
	defer C.free(request)
	method := C.CString(unaryMethod)
	defer C.free(unsafe.Pointer(method))

	endpointState := map[string]C.int{}
	channelState := C.int(C.lbc_channel_connectivity(ch))
	served := map[string]int{}
	started, done, ok, lookups, transitions := 0, 0, 0, 0, 0
	for spins := 0; done < calls && spins < 1000; spins++ {
		n := C.lbc_cq_poll(cq, events, C.sizeof_lbc_event, eventBatch, 100)
		if n < 0 {
			return channelError(ch, "lbc_cq_poll", n)
		}
		for _, ev := range slots[:n] {
			switch ev.kind {
			case C.LBC_EVENT_LOOKUP: // discovery: answered from this goroutine
				addrs, free := cStrings(backends)
				rc := C.lbc_channel_answer_lookup(ch, addrs, C.size_t(len(backends)), nil)
				free()
				if rc != C.LBC_OK {
					return channelError(ch, "lbc_channel_answer_lookup", rc)
				}
				lookups++
			case C.LBC_EVENT_CONNECTIVITY:
				transitions++
				if ev.flags&C.LBC_CONNECTIVITY_ENDPOINT != 0 {
					endpointState[C.GoString(ev.address)] = ev.state
					C.lbc_free(unsafe.Pointer(ev.address)) // ours to free
				} else {
					channelState = ev.state
				}
			case C.LBC_EVENT_UNARY:
				resp := ev.response
				done++
				if status := C.lbc_response_status(resp); status == C.LBC_STATUS_OK {
					ok++
					served[C.GoString(C.lbc_response_peer(resp))]++
				} else {
					fmt.Fprintf(os.Stderr, "balanced-go: call: %s %s\n", C.GoString(C.lbc_status_name(status)),
						C.GoString(C.lbc_response_message(resp)))
				}
				C.lbc_response_free(resp)
			}
		}
		// Start the calls once every endpoint is READY (events, no polling of stats;
		// at most ~5 s), so that round_robin spreads them over all of them.
		ready := 0
		for _, s := range endpointState {
			if s == C.LBC_CONN_READY {
				ready++
			}
		}
		if started == 0 && (channelState != C.LBC_CONN_READY || ready < len(backends)) && spins < 50 {
			continue
		}
		for ; started < calls; started++ {
			if rc := C.lbc_unary_async(ch, method, request, 2, nil, 5000, cq, nil, nil); rc != C.LBC_OK {
				return channelError(ch, "lbc_unary_async", rc)
			}
		}
	}
	fmt.Printf("unary: %d of %d OK after %d lookup(s), %d connectivity event(s); by backend:", ok, calls, lookups,
		transitions)
	for peer, count := range served {
		fmt.Printf(" %s=%d", peer, count)
	}
	fmt.Println()
	if ok != calls || len(served) != len(backends) {
		return fmt.Errorf("expected %d OK calls spread over %d backends", calls, len(backends))
	}

	// Server streaming: three responses of 5, 6 and 7 bytes (blocking calls are fine
	// from a goroutine: it holds its thread only while in C).
	streamRequest := C.CBytes([]byte{0x12, 2, 0x08, 5, 0x12, 2, 0x08, 6, 0x12, 2, 0x08, 7})
	defer C.free(streamRequest)
	smethod := C.CString(streamMethod)
	defer C.free(unsafe.Pointer(smethod))
	var call *C.lbc_call
	if rc := C.lbc_call_start(ch, smethod, nil, 5000, nil, nil, &call); rc != C.LBC_OK {
		return channelError(ch, "lbc_call_start", rc)
	}
	defer C.lbc_call_free(call)
	if rc := C.lbc_call_send(call, streamRequest, 12, C.LBC_SEND_END, 5000); rc != C.LBC_OK {
		return channelError(ch, "lbc_call_send", rc)
	}
	var sizes []int
	for {
		var message unsafe.Pointer
		var length C.size_t
		rc := C.lbc_call_recv(call, 5000, &message, &length)
		if rc == C.LBC_END {
			break
		}
		if rc != C.LBC_OK {
			return channelError(ch, "lbc_call_recv", rc)
		}
		sizes = append(sizes, int(length))
		C.lbc_free(message)
	}
	var status C.int
	var statusMessage *C.char
	if rc := C.lbc_call_finish(call, 5000, &status, &statusMessage, nil); rc != C.LBC_OK {
		return channelError(ch, "lbc_call_finish", rc)
	}
	fmt.Printf("server streaming: %d messages %v, %s from %s\n", len(sizes), sizes,
		C.GoString(C.lbc_status_name(status)), C.GoString(C.lbc_call_peer(call)))
	if len(sizes) != 3 || status != C.LBC_STATUS_OK {
		return fmt.Errorf("expected 3 messages and OK")
	}

	// Close: the watch's last event says SHUTDOWN.
	C.lbc_channel_close(ch)
	closed = true
	for spins := 0; spins < 50; spins++ {
		n := C.lbc_cq_poll(cq, events, C.sizeof_lbc_event, eventBatch, 100)
		for _, ev := range slots[:max(int(n), 0)] {
			if ev.kind != C.LBC_EVENT_CONNECTIVITY {
				continue
			}
			C.lbc_free(unsafe.Pointer(ev.address))
			if ev.flags&C.LBC_CONNECTIVITY_LAST != 0 {
				if ev.state != C.LBC_CONN_SHUTDOWN {
					return fmt.Errorf("the last connectivity event says %d, expected SHUTDOWN", int(ev.state))
				}
				fmt.Println("closed: SHUTDOWN")
				return nil
			}
		}
	}
	return fmt.Errorf("no SHUTDOWN event after close")
}

func max(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: %s ipv4:ADDR:PORT[,ADDR:PORT...]\n", os.Args[0])
		os.Exit(2)
	}
	fmt.Printf("lbchannel %s from Go\n", C.GoString(C.lbc_version()))
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "balanced-go: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("balanced-go: OK")
}
