/*
 * lbchannel.h — a client-side load-balanced gRPC channel.
 *
 * One HTTP/2 connection per backend, a backend picked per RPC, reconnection with
 * gRPC's connection backoff, periodic service discovery. Unary calls (blocking or
 * asynchronous) and streaming calls of every shape, over plaintext HTTP/2 (h2c).
 * Link with `pkg-config --cflags --libs lbchannel`.
 *
 * Conventions used throughout this header
 * ---------------------------------------
 * - Every function that can fail returns an `int`: LBC_OK (0) on success or a
 *   negative `lbc_error` code. On failure no state changes and out-parameters
 *   are left untouched. (Accessors such as lbc_response_status() and the
 *   string functions cannot fail; destructors return void.) `lbc_strerror()` names the
 *   code; `lbc_last_errmsg()` gives the detailed message of the most recent
 *   failing call on the calling OS thread. RULE for runtimes that move code
 *   between OS threads (Go, green threads): read the message in the same native
 *   call that failed, or with lbc_channel_errmsg_copy() (per channel, any thread).
 *   The one positive result is LBC_END from lbc_call_recv() (no more messages).
 * - The outcome of an RPC is not an error code: `lbc_unary()` returns LBC_OK when
 *   the RPC ran to *any* gRPC status (including UNAVAILABLE or DEADLINE_EXCEEDED)
 *   and reports that status in the `lbc_response`; a streaming call reports it
 *   through lbc_call_finish().
 * - Input pointers are borrowed for the duration of the call and copied if kept.
 *   Objects created by the library (`lbc_*_new`, `lbc_channel_open`, responses)
 *   are released with their own `_free`/`_close` function; strings and buffers
 *   returned as `char **`/`void **` out-parameters are released with `lbc_free()`.
 *   Destructors accept NULL.
 * - THREAD SAFETY: a channel may be used from any number of threads at once.
 *   Options, metadata and response objects are plain values: use each from one
 *   thread at a time (read-only accessors may be called concurrently).
 * - No global initialisation is needed.
 * - FORK: a process may fork() without exec after loading the library (Python's
 *   multiprocessing "fork" start method, pre-forking servers): the child can open
 *   its own channels and use them. Handles made before fork() — channels,
 *   completion queues, streaming calls — belong to the parent, whose I/O threads
 *   the child does not have: in the child every function taking one returns
 *   LBC_ERR_FORKED ("... was opened in process PID before fork(); ... open a new
 *   channel in the child"); lbc_cq_fd() returns -1; lbc_channel_close(),
 *   lbc_cq_free() and lbc_call_free() only forget the handle (its memory stays
 *   until the child exits: nothing of the parent's can be torn down safely in
 *   the child). The child does not keep the parent's connections: the fork
 *   handler swaps every socket, epoll and eventfd descriptor of the library for
 *   /dev/null in the child, so a connection the parent closes is closed even
 *   while children run (the descriptor numbers stay taken). Responses, metadata and
 *   options are plain values and remain usable. The parent's handles are not
 *   affected. A pthread_atfork() handler, installed when the library is loaded,
 *   makes this work (see README, "fork"). Forking while another thread of the
 *   parent is inside an lbc_* call that has never run before in that process is
 *   the one case it cannot make safe; open channels before forking to be sure,
 *   or start workers with exec ("spawn"/"forkserver").
 */
#ifndef LBCHANNEL_H
#define LBCHANNEL_H

/*
 * FFI PARSERS (Python cffi's cdef, LuaJIT's ffi.cdef, ...): define
 * LBC_NO_SYSTEM_INCLUDES and preprocess, e.g.
 *   cc -E -P -DLBC_NO_SYSTEM_INCLUDES lbchannel.h
 * The result includes no system header (the parser must know size_t, int64_t,
 * uint8_t, uint32_t and uint64_t, as cffi and LuaJIT do) and no compiler extension;
 * every constant an FFI needs is an enum constant, so it survives preprocessing.
 * (The version macros and LBC_EVENT_MIN_SIZE remain #defines: use lbc_version()
 * and your own sizeof(lbc_event).) `make test` checks this with cffi.
 */
#ifndef LBC_NO_SYSTEM_INCLUDES
#include <stddef.h>
#include <stdint.h>
#endif

/*
 * LBC_DEPRECATED(msg) marks a function that a later major version will remove;
 * compilers warn where it is used (the replacement is in `msg` and in its
 * comment). Deprecated functions keep working until that major version.
 */
#if defined(LBC_NO_SYSTEM_INCLUDES) || !(defined(__GNUC__) || defined(__clang__))
#define LBC_DEPRECATED(msg)
#else
#define LBC_DEPRECATED(msg) __attribute__((deprecated(msg)))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------- */
/* Version                                                                    */
/* ------------------------------------------------------------------------- */

/** Version of this header, "MAJOR.MINOR.PATCH". */
#define LBC_VERSION "1.1.0"
/** Version of this header as 0xMMmmpp. */
#define LBC_VERSION_NUM 0x010100

/** Version string of the loaded library (static storage). Thread-safe. */
const char *lbc_version(void);
/** Version of the loaded library as 0xMMmmpp; compare with LBC_VERSION_NUM. */
int lbc_version_num(void);

/* ------------------------------------------------------------------------- */
/* Errors (API misuse and local failures; not RPC outcomes)                   */
/* ------------------------------------------------------------------------- */

typedef enum lbc_error {
  LBC_OK = 0,
  /** A required pointer was NULL or a value was out of range. */
  LBC_ERR_INVALID_ARGUMENT = -1,
  /** The target string could not be parsed. */
  LBC_ERR_INVALID_TARGET = -2,
  /** The request is valid but not supported by this version of the library. */
  LBC_ERR_UNSUPPORTED = -3,
  /** lbc_options_set() was given a key it does not know. */
  LBC_ERR_UNKNOWN_OPTION = -4,
  /** The handle was closed (or never was a live handle). */
  LBC_ERR_CLOSED = -5,
  /** Out of memory or another resource (threads, file descriptors). */
  LBC_ERR_RESOURCE = -6,
  /** A message is larger than the configured maximum send size. */
  LBC_ERR_MESSAGE_TOO_LARGE = -7,
  /** Metadata key or value not allowed by gRPC. */
  LBC_ERR_INVALID_METADATA = -8,
  /** Index out of range. */
  LBC_ERR_OUT_OF_RANGE = -9,
  /** A bug in lbchannel; the message says more. */
  LBC_ERR_INTERNAL = -10,
  /** Eager resolution found no endpoint in time (see option "resolution"). */
  LBC_ERR_RESOLUTION = -11,
  /** A blocking call made from the channel's own log callback (its I/O thread),
   *  where it would wait for itself forever. */
  LBC_ERR_RECURSIVE_CALL = -12,
  /** Nothing ready: the timeout elapsed (or was 0) before a message, room to
   *  send, headers or the end of the call. Not a failure of the call: try again. */
  LBC_ERR_WOULD_BLOCK = -13,
  /** The call has already ended (its status is known): nothing more can be sent. */
  LBC_ERR_CALL_FINISHED = -14,
  /** The send side of the call was closed (lbc_call_close_send or LBC_SEND_END). */
  LBC_ERR_SEND_CLOSED = -15,
  /** The handle was opened in the parent process before fork(); this process is the
   *  child, where it cannot be used (see FORK above). Open a new one in the child. */
  LBC_ERR_FORKED = -16
} lbc_error;

/** Static, never NULL, English name of an `lbc_error` code ("unknown error" otherwise). */
const char *lbc_strerror(int code);

/**
 * Detailed message of the most recent failing lbc_* call made by the calling
 * thread ("" if none). Valid until the next lbc_* call on this thread.
 */
const char *lbc_last_errmsg(void);

/** Release a buffer or string the library returned through an out-parameter. NULL is a no-op. */
void lbc_free(void *ptr);

/* ------------------------------------------------------------------------- */
/* gRPC status codes (the outcome of an RPC)                                  */
/* ------------------------------------------------------------------------- */

typedef enum lbc_status_code {
  LBC_STATUS_OK = 0,
  LBC_STATUS_CANCELLED = 1,
  LBC_STATUS_UNKNOWN = 2,
  LBC_STATUS_INVALID_ARGUMENT = 3,
  LBC_STATUS_DEADLINE_EXCEEDED = 4,
  LBC_STATUS_NOT_FOUND = 5,
  LBC_STATUS_ALREADY_EXISTS = 6,
  LBC_STATUS_PERMISSION_DENIED = 7,
  LBC_STATUS_RESOURCE_EXHAUSTED = 8,
  LBC_STATUS_FAILED_PRECONDITION = 9,
  LBC_STATUS_ABORTED = 10,
  LBC_STATUS_OUT_OF_RANGE = 11,
  LBC_STATUS_UNIMPLEMENTED = 12,
  LBC_STATUS_INTERNAL = 13,
  LBC_STATUS_UNAVAILABLE = 14,
  LBC_STATUS_DATA_LOSS = 15,
  LBC_STATUS_UNAUTHENTICATED = 16
} lbc_status_code;

/*
 * How a response maps to a status (the same for unary and streaming calls; the
 * README's "How a response becomes a status" has the full table): 1xx header
 * blocks are skipped; a malformed response (no :status, DATA before the headers
 * or after the trailers, ...) is LBC_STATUS_INTERNAL with a message naming it; a
 * response that is not gRPC (:status other than 200, or a content-type other than
 * application/grpc...) has its body ignored and ends with its grpc-status when that
 * is an error, else with the HTTP status mapping (200 with a foreign content-type:
 * LBC_STATUS_UNKNOWN) — never OK, so no message is ever dropped under an OK
 * status. A request whose header block exceeds HTTP/2's 64 KiB limit ends
 * LBC_STATUS_RESOURCE_EXHAUSTED without being sent or retried. A stream the
 * client's own HTTP/2 session resets (the server broke flow control or framing)
 * ends LBC_STATUS_INTERNAL, and the message says the client reset it.
 */

/** Static name of a gRPC status code, e.g. "UNAVAILABLE"; "UNKNOWN_CODE" when out of range. */
const char *lbc_status_name(int status);

/* ------------------------------------------------------------------------- */
/* Options                                                                    */
/* ------------------------------------------------------------------------- */

/** Options for lbc_channel_open(). Opaque; copied by lbc_channel_open(). */
typedef struct lbc_options lbc_options;

/** Load-balancing policies. */
typedef enum lbc_lb_policy {
  /** Power of two random choices, fewer outstanding RPCs wins (the default). */
  LBC_LB_LEAST_REQUEST = 0,
  /** Each READY endpoint in turn. */
  LBC_LB_ROUND_ROBIN = 1,
  /** The first READY endpoint in target order. */
  LBC_LB_PICK_FIRST = 2,
  /** Power of two random choices on latency × load (peak EWMA, as Finagle and
   *  Linkerd): each endpoint's cost is a peak-sensitive moving average of its call
   *  latency, decaying with time (peak_ewma_decay_ms), × (outstanding calls + 1).
   *  An endpoint without a latency yet costs the channel's average latency. */
  LBC_LB_PEAK_EWMA = 3,
  /** Each READY endpoint in turn, in proportion to its weight: "ADDRESS;weight=N"
   *  (N = 1 .. 1000000) in lbc_channel_set_endpoints() or lbc_address_list_add(),
   *  or the SRV record's weight with dns_srv (0 counts as 1); 1 otherwise.
   *  Earliest-deadline-first, as gRPC's weighted_round_robin. */
  LBC_LB_WEIGHTED_ROUND_ROBIN = 4
} lbc_lb_policy;

/**
 * CONSTRUCTOR. Create an options object holding every default (see the README's
 * options table). Returns LBC_OK, LBC_ERR_INVALID_ARGUMENT (out is NULL) or
 * LBC_ERR_RESOURCE.
 */
int lbc_options_new(lbc_options **out);

/** DESTRUCTOR. NULL is a no-op. */
void lbc_options_free(lbc_options *opts);

/**
 * Set any option by name from its text form — the interface meant for bindings.
 * Keys and values (durations in milliseconds, sizes in bytes, booleans exactly
 * 1, 0, true or false — other spellings are LBC_ERR_INVALID_ARGUMENT):
 *   lb_policy                 least_request | round_robin | pick_first |
 *                             peak_ewma | weighted_round_robin (default least_request)
 *   connect_timeout_ms        > 0                        (default 20000)
 *   wait_for_ready            bool                       (default false)
 *   max_send_message_size     0 .. 2147483647            (default 2147483647)
 *   max_receive_message_size  0 .. 2147483647            (default 4194304)
 *   backoff_initial_ms        > 0                        (default 1000)
 *   backoff_multiplier        >= 1.0                     (default 1.6)
 *   backoff_jitter            0.0 .. 1.0                 (default 0.2)
 *   backoff_max_ms            >= backoff_initial_ms      (default 120000)
 *                             (each is checked against the current value of
 *                             the other: set both with lbc_options_set_backoff)
 *   backoff_reset_after_ms    >= 0: how long a connection must
 *                             stay READY (or answer a call) before
 *                             its loss or GOAWAY
 *                             resets the backoff and is replaced at
 *                             once; one that ends sooner counts as a
 *                             failed attempt and the endpoint waits
 *                             for the next backoff (after a first such
 *                             GOAWAY it is IDLE: calls waiting with no
 *                             READY endpoint reconnect it at once); 0 =
 *                             every READY connection counts as
 *                             healthy                               (default 5000)
 *   authority                 :authority header value, visible
 *                             ASCII 0x21-0x7E            (default: the endpoint's host:port)
 *   user_agent                prefix of the user-agent,
 *                             ASCII 0x20-0x7E            (default: none)
 * Streaming calls (lbc_call_*):
 *   stream_window_bytes       1024 .. 2147483647: each stream's HTTP/2
 *                             receive window, i.e. how much a call may
 *                             hold unread                           (default 4194304)
 *   stream_send_buffer_bytes  0 .. 2147483647: bytes queued for sending before
 *                             lbc_call_send blocks (one message is
 *                             always accepted; 0 = one at a time)   (default 65536)
 * Discovery (dns: targets and lookup callbacks):
 *   discovery_interval_ms     >= 100: re-resolve this often        (default 10000)
 *   min_reresolution_interval_ms >= 0: least time between two
 *                             resolutions triggered early by a lost
 *                             connection, a failed connection
 *                             attempt or GOAWAY                    (default 1000)
 *   dns_use_ttl               bool: re-resolve when the records'
 *                             TTL expires instead of every interval (default false)
 *   dns_ttl_floor_ms          >= 100: the shortest TTL honoured     (default 1000)
 *   dns_srv                   bool: the host is an SRV name
 *                             (e.g. _grpc._tcp.svc.example) whose
 *                             records give hosts and ports          (default false)
 *   dns_timeout_ms            > 0: per DNS query attempt            (default 2000)
 *   empty_answer              keep | apply: what an answer with no
 *                             addresses does (keep = keep the last
 *                             known endpoints and log)              (default keep)
 *   resolution                lazy | eager: eager makes
 *                             lbc_channel_open wait for the first
 *                             non-empty resolution                  (default lazy)
 *   eager_timeout_ms          > 0: how long eager waits             (default 5000)
 * TLS (see "TLS" below and the README's TLS section):
 *   tls                       bool: TLS on every connection, ALPN h2,
 *                             :scheme https                         (default false)
 *   tls_ca_file               PEM file of trusted CA certificates   (default: the
 *   tls_ca_dir                OpenSSL hashed CA directory            system's roots)
 *   tls_ca_pem                trusted CA certificates as PEM text
 *                             (any combination of the three; given
 *                             any of them, the system roots are not used)
 *   tls_cert_file             PEM file: client certificate chain,
 *                             leaf first (mutual TLS)               (default none)
 *   tls_key_file              PEM file: its private key (unencrypted)
 *   tls_cert_pem, tls_key_pem the same as PEM text (instead of the files)
 *   tls_server_name           host name (or IP literal) for SNI, certificate
 *                             verification and the default
 *                             :authority (like gRPC's
 *                             ssl_target_name_override)            (default: the
 *                             target's host; for ipv4:/ipv6: targets each address)
 *   tls_min_version           1.2 | 1.3                             (default 1.2)
 *   tls_session_resumption    bool: resume TLS sessions when
 *                             reconnecting to an endpoint          (default true)
 * Paths must be non-empty without control bytes; PEM text must hold a
 * "-----BEGIN " line. Files are read by lbc_channel_open() (and again by
 * lbc_channel_reload_tls()), not by the setter.
 * Balancing (see lbc_lb_policy):
 *   least_request_choice_count 2 .. 10: endpoints drawn per pick by
 *                             least_request                         (default 2)
 *   peak_ewma_decay_ms        1 .. 86400000: time constant of
 *                             peak_ewma's latency averages          (default 10000)
 * Outlier ejection (off by default; every policy): an endpoint whose last N calls
 * all ended with a counted status (or whose failure rate over an interval is too
 * high) is taken out of the balancer for a while; it keeps its connection and
 * comes back when the time is over:
 *   outlier_consecutive_failures 0 .. 1000000: N; 0 turns ejection off (default 0)
 *   outlier_base_ejection_ms  1 .. 86400000: the first ejection's
 *                             length; the k-th lasts k times as long
 *                             (k starts over after outlier_max_ejection_ms
 *                             without an ejection)                  (default 30000)
 *   outlier_max_ejection_ms   1 .. 86400000: the longest ejection  (default 300000)
 *   outlier_max_ejection_percent 0 .. 100: an endpoint is ejected only
 *                             while (ejected + 1) <= this share of the
 *                             endpoints (so never the only one at 50) (default 50)
 *   outlier_status_codes      comma-separated codes that count, by
 *                             number or name, e.g. "UNAVAILABLE,13";
 *                             connection errors end calls with
 *                             UNAVAILABLE                           (default UNAVAILABLE)
 *   outlier_failure_percentage 0 .. 100: a second detector: at the end
 *                             of each interval, an endpoint with at
 *                             least outlier_request_volume calls of
 *                             which this share or more failed (with a
 *                             counted status) is ejected; 0 = off   (default 0)
 *   outlier_interval_ms       10 .. 86400000: its interval          (default 10000)
 *   outlier_request_volume    1 .. 1000000: the fewest calls in an
 *                             interval for the rate to count        (default 50)
 * Ejections and returns are logged (warning / info) and shown in the stats.
 * Slow start (off by default; round_robin, least_request, peak_ewma): an endpoint
 * that has just become READY (new, or reconnected), come back to SERVING after a
 * failed health check or returned from an outlier ejection takes part in picks with a
 * probability rising linearly from the minimum weight to 1 over the window
 * (endpoints that joined an empty set, e.g. at open, do not ramp on their first READY):
 *   slow_start_window_ms      0 .. 86400000: the ramp; 0 = off      (default 0)
 *   slow_start_min_weight_percent 1 .. 100: the weight at READY     (default 10)
 * Subsetting (large fleets): each channel uses a stable subset of the endpoints
 * discovery offers, chosen by rendezvous hashing of a client id, so that many
 * clients spread over the fleet and a change of the set moves few connections:
 *   subset_size               0 .. 1000000: connect to at most this
 *                             many endpoints; 0 = all               (default 0)
 *   subset_client_id          visible ASCII 0x21-0x7E: the id hashed
 *                             (the same id picks the same subset in
 *                             every process)          (default: random per channel)
 * Keepalive (gRFC A8; off by default): each connection sends an HTTP/2 PING once
 * keepalive_time_ms has passed since the last byte it read from the server, and
 * re-arms after the PING ACK. A PING left unanswered, with nothing else read, for
 * keepalive_timeout_ms declares the server dead: the connection closes, its calls
 * end UNAVAILABLE with the message "keepalive: no PING ACK from ADDRESS within N
 * ms" (also the endpoint's last_error and a LBC_LOG_WARNING line), the endpoint
 * goes to TRANSIENT_FAILURE and reconnects after the connection backoff, and
 * discovery re-resolves early. A server that finds the PINGs too frequent answers
 * GOAWAY ENHANCE_YOUR_CALM "too_many_pings": the channel then doubles the
 * keepalive time for its new connections (logged as a warning; see the stats'
 * "keepalive" objects). gRPC servers accept at most one PING per 5 minutes by
 * default (one per 2 hours on a connection without calls, unless they permit
 * PINGs without calls): agree on the values with the server's owners; gRPC
 * recommends >= 10000 ms.
 *   keepalive_time_ms         0 = off, or 100 .. 2147483647         (default 0)
 *   keepalive_timeout_ms      100 .. 2147483647                     (default 20000)
 *   keepalive_permit_without_calls bool: PING connections without
 *                             open calls too (false: an idle
 *                             connection sends no PING; its first new
 *                             call sends one first when the last read
 *                             is older than keepalive_time_ms)      (default false)
 * Retries and hedging (gRFC A6; off by default; see the README's "Retries and
 * hedging" section). A retried attempt goes through the balancer again and
 * avoids the endpoint that just failed when another one is pickable; attempts
 * after the first carry the grpc-previous-rpc-attempts header; a server's
 * grpc-retry-pushback-ms trailer sets the next delay (a negative or malformed
 * value stops retrying). A call is committed -- never retried again -- once
 * response headers (not a trailers-only response) arrived, or, for a streaming
 * call, once its request outgrew retry_buffer_bytes. lbc_response_attempts() /
 * lbc_call_attempts() tell how many attempts a call made, and
 * lbc_response_attempt_peer() / lbc_call_attempt_peer() where each went:
 *   retry_max_attempts        >= 0: attempts in all, the first included;
 *                             0 or 1 = no retries, above 5 counts
 *                             as 5 (A6)                             (default 0)
 *   retry_initial_backoff_ms  1 .. 86400000: backoff before the first
 *                             retry                                 (default 100)
 *   retry_max_backoff_ms      retry_initial_backoff_ms .. 86400000  (default 1000)
 *   retry_backoff_multiplier  >= 1.0: growth per retry              (default 2.0)
 *   retry_jitter              0.0 .. 1.0: the delay is uniform in
 *                             backoff*(1-jitter) .. backoff; 1.0 is
 *                             A6's random(0, backoff)               (default 1.0)
 *   retry_status_codes        comma-separated codes that are retried,
 *                             by number or name, e.g.
 *                             "UNAVAILABLE,RESOURCE_EXHAUSTED"      (default UNAVAILABLE)
 *   retry_throttle_max_tokens 0 .. 1000: A6 retry throttling: a token
 *                             bucket of this size shared by the
 *                             channel's calls; a call failing with a
 *                             retryable (hedging: non-fatal) status
 *                             takes one token, an OK call gives back
 *                             retry_throttle_token_ratio; retries and
 *                             further hedged copies only while more
 *                             than half the tokens are left; 0 = no
 *                             throttling                            (default 0)
 *   retry_throttle_token_ratio > 0 .. 1000 (3 decimals kept)        (default 0.1)
 *   retry_buffer_bytes        0 .. 2147483647: request bytes a
 *                             streaming call keeps for a retry (and
 *                             for a transparent retry after
 *                             REFUSED_STREAM); more commits the call;
 *                             0 = streaming calls are never resent   (default 262144)
 *   hedging_max_attempts      >= 0: unary calls send up to this many
 *                             copies of the request, one every
 *                             hedging_delay_ms while none answered;
 *                             the first OK or fatal answer wins and
 *                             the other copies are cancelled
 *                             (RST_STREAM CANCEL). Only for methods
 *                             that are safe to run more than once.
 *                             0 or 1 = off, above 5 counts as 5. Not
 *                             together with retry_max_attempts > 1
 *                             (LBC_ERR_INVALID_ARGUMENT)             (default 0)
 *   hedging_delay_ms          0 .. 86400000                         (default 0)
 *   hedging_non_fatal_codes   comma-separated codes after which the
 *                             other copies go on (a copy failing with
 *                             any other code ends the call); when no
 *                             copy is left in flight the next starts
 *                             at once; "" = none                    (default "")
 *   service_config            a gRPC service config JSON text
 *                             (grpc/grpc doc/service_config.md): its
 *                             methodConfig entries with retryPolicy
 *                             or hedgingPolicy apply to the services
 *                             / methods they name (a method entry
 *                             wins over a service entry, which wins
 *                             over the retry_ / hedging_ options; an
 *                             entry with an empty name applies when
 *                             neither option is set), and its
 *                             retryThrottling applies unless
 *                             retry_throttle_max_tokens is set. Other
 *                             members are ignored. Malformed JSON or
 *                             an invalid policy is
 *                             LBC_ERR_INVALID_ARGUMENT naming the
 *                             JSON path; "" removes it.              (default none)
 * Health checking (off by default; gRFC A17, like C-core's
 * healthCheckConfig.serviceName): each READY connection opens a
 * grpc.health.v1.Health/Watch stream for the service name, outside the balancer
 * (it counts in no call statistics). Only endpoints whose server answered SERVING
 * are picked. Until the first answer on a connection the endpoint is not picked
 * but calls wait for it as for a connecting one; NOT_SERVING, SERVICE_UNKNOWN or
 * UNKNOWN take it out at once and count as a failure (calls without wait_for_ready
 * fail fast with UNAVAILABLE when no endpoint is left). A server without the
 * health service (Watch ends UNIMPLEMENTED) is used as healthy, and that is logged
 * once per endpoint. Any other end of the watch makes the endpoint unpickable and
 * re-opens the watch after the connection backoff (backoff_* options), or at once
 * when the stream had answered (the backoff then starts over). Changes of health
 * are logged and shown in the stats ("health"):
 *   health_check_service      the service name of the Watch request,
 *                             0 .. 1024 bytes of ASCII 0x20-0x7E;
 *                             "" (the empty string) is the server's
 *                             overall health and turns checking on
 *                             like any other name               (default: unset = off)
 * Returns LBC_OK, LBC_ERR_INVALID_ARGUMENT (NULL argument or bad value) or
 * LBC_ERR_UNKNOWN_OPTION. On failure the options are unchanged.
 */
int lbc_options_set(lbc_options *opts, const char *key, const char *value);

/*
 * Typed setters. Each returns LBC_OK or LBC_ERR_INVALID_ARGUMENT (opts NULL, or
 * a value outside the range given for its key above; the message names the
 * option and the value) — never LBC_ERR_UNKNOWN_OPTION. On failure the options
 * are unchanged. THREAD SAFETY: as for every options function, one thread at a
 * time per options object.
 */
/** lb_policy: an lbc_lb_policy value. */
int lbc_options_set_lb_policy(lbc_options *opts, lbc_lb_policy policy);
/** connect_timeout_ms: > 0. */
int lbc_options_set_connect_timeout_ms(lbc_options *opts, int64_t ms);
/** wait_for_ready: any int (0 = fail fast with UNAVAILABLE when no endpoint is
 *  usable). Fails only for opts NULL. */
int lbc_options_set_wait_for_ready(lbc_options *opts, int enabled);
/** max_send_message_size and max_receive_message_size: each 0 .. INT32_MAX; both or neither are set. */
int lbc_options_set_max_message_sizes(lbc_options *opts, int64_t max_send, int64_t max_receive);
/** The connection backoff (gRPC connection-backoff.md): initial_ms > 0,
 *  multiplier >= 1.0, jitter 0.0 .. 1.0, max_ms >= initial_ms (NaN refused);
 *  all four or none are set. */
int lbc_options_set_backoff(lbc_options *opts, int64_t initial_ms, double multiplier,
                            double jitter, int64_t max_ms);
/** authority: visible ASCII 0x21-0x7E (as for lbc_options_set); NULL restores the default. */
int lbc_options_set_authority(lbc_options *opts, const char *authority);
/** Keepalive (see "Keepalive" above): time_ms 0 (off) or 100 .. 2147483647,
 *  timeout_ms 100 .. 2147483647, permit_without_calls any int (non-zero: PING
 *  connections without open calls too); all three or none are set. */
int lbc_options_set_keepalive(lbc_options *opts, int64_t time_ms, int64_t timeout_ms,
                              int permit_without_calls);
/** The channel's retry policy: retry_max_attempts (>= 0; 0 or 1 = off; above 5
 *  counts as 5), retry_initial_backoff_ms, retry_max_backoff_ms,
 *  retry_backoff_multiplier and retry_jitter, ranges as above; all five or none
 *  are set. The retried codes are retry_status_codes (lbc_options_set). */
int lbc_options_set_retry_policy(lbc_options *opts, int max_attempts, int64_t initial_backoff_ms,
                                 int64_t max_backoff_ms, double multiplier, double jitter);
/** Retry throttling: retry_throttle_max_tokens (0 .. 1000; 0 = off) and
 *  retry_throttle_token_ratio (> 0 .. 1000); both or neither are set. */
int lbc_options_set_retry_throttle(lbc_options *opts, int max_tokens, double token_ratio);
/** retry_buffer_bytes: 0 .. INT32_MAX. */
int lbc_options_set_retry_buffer_bytes(lbc_options *opts, int64_t bytes);
/** Hedging of unary calls: hedging_max_attempts (>= 0; 0 or 1 = off; above 5
 *  counts as 5) and hedging_delay_ms (0 .. 86400000); both or neither are set.
 *  The non-fatal codes are hedging_non_fatal_codes (lbc_options_set). */
int lbc_options_set_hedging(lbc_options *opts, int max_attempts, int64_t delay_ms);

/* ------------------------------------------------------------------------- */
/* TLS                                                                        */
/* ------------------------------------------------------------------------- */
/*
 * With `tls` on, every connection of the channel runs TLS 1.2 or 1.3 through
 * OpenSSL with ALPN "h2" (a server that does not select h2 is refused) and
 * sends `:scheme https`. Verification is always on, and there is no switch to
 * turn it off: the server's certificate must chain to the trusted CAs and name
 * the target's SERVICE host name -- "api.internal" for "dns:///api.internal:443",
 * even though connections go to the resolved addresses -- or tls_server_name
 * when set; SNI carries the same name (never an IP address). The default
 * :authority becomes "host:port" of the target (or tls_server_name).
 *
 * The handshake runs on the channel's I/O thread without blocking it and
 * counts against connect_timeout_ms. A connection that fails ends the RPCs
 * waiting for it with UNAVAILABLE and a message naming the cause and OpenSSL's
 * reason (untrusted CA, host name mismatch, expired certificate, no ALPN h2, a
 * plaintext server on a TLS channel, a TLS server on a plaintext channel, a
 * rejected client certificate); the same text is the endpoint's "last_error"
 * in lbc_channel_stats_json() and a LBC_LOG_WARNING line.
 *
 * lbc_channel_open() reads every file and fails with LBC_ERR_INVALID_ARGUMENT,
 * naming the option, the file and the reason, for settings that cannot work:
 * an unreadable or empty file, no certificate in a CA or certificate file, no
 * usable key, a key that does not match the certificate, a key without a
 * certificate or the reverse, a file and PEM text for the same thing, or a
 * tls_* setting while `tls` is off.
 *
 * Sessions are resumed per endpoint across reconnects (tls_session_resumption)
 * but never across lbc_channel_reload_tls(), so a resumed session was always
 * verified with the current trust settings.
 */

/** Typed setter for `tls` (non-zero: TLS on every connection). Returns LBC_OK or
 *  LBC_ERR_INVALID_ARGUMENT (opts NULL). */
int lbc_options_set_tls(lbc_options *opts, int enabled);
/**
 * Typed setter for the trusted CAs: `ca_file` (PEM file), `ca_dir` (OpenSSL hashed
 * directory) and `ca_pem` (`ca_pem_len` bytes of PEM text; it need not be
 * NUL-terminated). Each may be NULL; all NULL restores the system's default roots.
 * Replaces all three settings. Strings are copied.
 * Returns LBC_OK or LBC_ERR_INVALID_ARGUMENT (opts NULL, empty path, not PEM).
 */
int lbc_options_set_tls_roots(lbc_options *opts, const char *ca_file, const char *ca_dir,
                              const char *ca_pem, size_t ca_pem_len);
/**
 * Typed setter for the client certificate (mutual TLS) as files: `cert_file`
 * holds the chain (leaf first), `key_file` its unencrypted private key, both PEM.
 * NULL, NULL removes the client certificate. Replaces tls_cert_pem/tls_key_pem.
 * Returns LBC_OK or LBC_ERR_INVALID_ARGUMENT; a key without a certificate (or
 * the reverse) is refused by lbc_channel_open().
 */
int lbc_options_set_tls_client_cert_files(lbc_options *opts, const char *cert_file, const char *key_file);
/**
 * Typed setter for the client certificate as PEM text in memory (`cert_len` and
 * `key_len` bytes; copied). NULL, 0, NULL, 0 removes it. Replaces
 * tls_cert_file/tls_key_file. Returns LBC_OK or LBC_ERR_INVALID_ARGUMENT.
 */
int lbc_options_set_tls_client_cert_pem(lbc_options *opts, const char *cert_pem, size_t cert_len,
                                        const char *key_pem, size_t key_len);
/** Typed setter for tls_server_name; NULL restores the default (the target's host).
 *  Returns LBC_OK or LBC_ERR_INVALID_ARGUMENT (opts NULL, an empty name, one with
 *  bytes outside visible ASCII 0x21-0x7E, or one longer than 253 bytes). */
int lbc_options_set_tls_server_name(lbc_options *opts, const char *name);

/** Addresses collected by a lookup callback. Valid only during the callback. */
typedef struct lbc_address_list lbc_address_list;

/**
 * Add one address to a lookup answer: "10.0.0.1:50051", "[::1]:50051" or
 * "unix:/path", optionally followed by ";weight=N" (N = 1 .. 1000000, used by
 * weighted_round_robin; 1 when absent); copied. Returns LBC_OK,
 * LBC_ERR_INVALID_ARGUMENT (NULL or a malformed address or weight; the list is
 * unchanged).
 */
int lbc_address_list_add(lbc_address_list *list, const char *address);

/**
 * Mark the lookup as failed with `message` (copied). The callback should then
 * return non-zero. Returns LBC_OK or LBC_ERR_INVALID_ARGUMENT.
 */
int lbc_address_list_set_error(lbc_address_list *list, const char *message);

/**
 * A custom lookup (pull discovery, like ginepro's LookupService). Called with the
 * channel's target text on the discovery schedule (every discovery_interval_ms and
 * early after a lost connection), on a dedicated thread of the channel — never the
 * I/O thread, so a slow lookup never stalls RPCs; never twice at once.
 * Return 0 with the addresses added to `out` (none = an empty answer, handled by
 * the empty_answer option), or non-zero for a failed lookup (the last known
 * endpoints are kept and the lookup is retried with backoff).
 * Calling lbc_channel_close() on its own channel from the callback closes the
 * handle at once (no callback of the channel starts after that); the teardown
 * finishes on another thread after the callback returns.
 *
 * THREAD: always the channel's lookup thread, a thread the library created
 * (never an application thread, never the I/O thread). RUNTIMES WITH A GLOBAL
 * LOCK (Ruby's GVL, Python's GIL, a Lua state): the callback has to take the lock
 * on that foreign thread, so release it around every lbc_* call that may wait
 * (lbc_unary, lbc_call_* and lbc_cq_poll with a timeout other than 0,
 * lbc_channel_open with eager resolution, lbc_channel_close, lbc_channel_stats_json,
 * lbc_channel_set_endpoints, lbc_channel_reload_tls) — ruby-ffi: `blocking: true`;
 * Python ctypes.CDLL does it by itself. A runtime that cannot run code on a
 * foreign thread at all must not install callbacks. Should the lock be held
 * anyway, lbc_channel_close still returns (after at most 2 s, see there).
 */
typedef int (*lbc_lookup_fn)(const char *target, lbc_address_list *out, void *user_data);

/**
 * Use `fn` instead of DNS to find the endpoints: the target of lbc_channel_open()
 * is then any non-empty text, passed to `fn` unparsed. `user_data` must stay valid
 * until the channel is closed and a lookup running then has returned
 * (lbc_channel_close waits for it, at most 2 s). fn = NULL removes the callback.
 * Without a running callback, lbc_channel_close waits until the teardown is
 * complete, however long that takes on a loaded machine.
 * Returns LBC_OK or LBC_ERR_INVALID_ARGUMENT (opts NULL).
 */
int lbc_options_set_lookup(lbc_options *opts, lbc_lookup_fn fn, void *user_data);

/** Log levels. */
typedef enum lbc_log_level {
  LBC_LOG_DEBUG = 0,
  LBC_LOG_INFO = 1,
  LBC_LOG_WARNING = 2,
  LBC_LOG_ERROR = 3
} lbc_log_level;

/**
 * Receives the channel's log lines (endpoint set changes, resolution failures,
 * lost connections). Called while the channel's I/O work runs — on its I/O
 * thread, or, when the I/O thread is idle, inline on an application thread
 * inside an lbc_* function that hands work to it (starting a call, sending on,
 * receiving from, cancelling or freeing a streaming call: the library then does
 * that work itself to save a wake-up), or on an application thread blocked in
 * lbc_unary(), lbc_cq_poll() or a blocking lbc_call_recv() (lbc_call_send,
 * lbc_call_headers, lbc_call_finish) that polls the channel's sockets for its
 * results (see there) —
 * never twice at once. Do not take a lock
 * in it that you hold around those calls. Return quickly and do not block in it: lbc_unary() and
 * other blocking calls on the same channel return LBC_ERR_RECURSIVE_CALL there;
 * lbc_channel_stats_json(), lbc_channel_set_endpoints(), lbc_unary_async() and
 * non-blocking lbc_call_* functions work.
 * lbc_channel_close() from it closes the handle at once (no callback
 * of the channel starts after that; the teardown finishes on another thread).
 * `message` is valid during the call only.
 *
 * THREAD: the channel's I/O thread (a library thread), or an application
 * thread inside one of the lbc_* functions named above (then that thread, with
 * whatever locks it holds). RUNTIMES WITH A GLOBAL LOCK: as for lbc_lookup_fn,
 * release the lock around lbc_* calls that may wait; the callback must take the
 * lock itself (it may already hold it when it runs inline on an application
 * thread: use a recursive acquire, e.g. PyGILState_Ensure). While a log callback
 * waits, the channel's I/O stops: RPCs of the channel wait and may reach their
 * deadlines.
 */
typedef void (*lbc_log_fn)(int level, const char *message, void *user_data);

/** Install a log callback (NULL: no logging, the default). user_data as for lookups.
 *  Returns LBC_OK or LBC_ERR_INVALID_ARGUMENT (opts NULL). */
int lbc_options_set_log_callback(lbc_options *opts, lbc_log_fn fn, void *user_data);

/* lbc_cq is declared with the completion queues below. */
typedef struct lbc_cq lbc_cq;

/**
 * The pollable alternative to the log callback, for runtimes that must never be
 * called from another thread (LuaJIT, some green-thread runtimes): the channel
 * keeps its log lines (at most 1024 unread; older ones are dropped and the next
 * line taken says how many) and posts an LBC_EVENT_LOG event with `tag` to `cq`
 * when lines arrive; take them with lbc_channel_next_log() until it returns
 * LBC_ERR_WOULD_BLOCK (edge-triggered: drain before waiting again). No code of
 * the application runs on a library thread. May be combined with a callback
 * (each line goes to both). The queue is kept alive by the options and the
 * channel; freeing it stops the events (lines can still be taken).
 * cq = NULL removes it. Returns LBC_OK, LBC_ERR_INVALID_ARGUMENT (opts NULL) or
 * LBC_ERR_FORKED (a parent's queue in a forked child).
 */
int lbc_options_set_log_queue(lbc_options *opts, lbc_cq *cq, void *tag);

/**
 * The pollable alternative to the lookup callback (for the same runtimes): the
 * channel discovers its endpoints by asking the application, on the lookup
 * schedule (discovery_interval_ms, early re-resolution, backoff after failures,
 * never twice at once), but instead of calling a function it posts an
 * LBC_EVENT_LOOKUP event with `tag` to `cq` and waits for
 * lbc_channel_answer_lookup() from any thread of the application. The target
 * text of lbc_channel_open() is then any non-empty text (the application knows
 * what it names). Takes precedence over lbc_options_set_lookup(). Needs
 * resolution=lazy: an eager open would wait for an answer nobody can give yet
 * (lbc_channel_open returns LBC_ERR_INVALID_ARGUMENT). A lookup still waiting
 * when the channel closes ends at once. cq = NULL removes it.
 * Returns LBC_OK, LBC_ERR_INVALID_ARGUMENT (opts NULL) or LBC_ERR_FORKED.
 */
int lbc_options_set_lookup_queue(lbc_options *opts, lbc_cq *cq, void *tag);

/* ------------------------------------------------------------------------- */
/* Metadata (gRPC request/response headers and trailers)                      */
/* ------------------------------------------------------------------------- */

/**
 * An ordered list of (key, value) pairs. Keys are lowercase ASCII
 * ([0-9a-z-_.]); a key ending in "-bin" carries arbitrary bytes (base64 on the
 * wire, done by the library), any other key carries printable ASCII (0x20-0x7E).
 * Keys starting with "grpc-" or ":" and the reserved headers "content-type",
 * "te", "user-agent", "host", "connection" cannot be sent.
 */
typedef struct lbc_metadata lbc_metadata;

/** CONSTRUCTOR. LBC_OK, LBC_ERR_INVALID_ARGUMENT (out is NULL) or LBC_ERR_RESOURCE. */
int lbc_metadata_new(lbc_metadata **out);
/** DESTRUCTOR. NULL is a no-op. */
void lbc_metadata_free(lbc_metadata *md);
/**
 * Append a pair; key and value are copied. `value` may be NULL when value_len is 0.
 * Returns LBC_OK, LBC_ERR_INVALID_ARGUMENT or LBC_ERR_INVALID_METADATA.
 */
int lbc_metadata_add(lbc_metadata *md, const char *key, const void *value, size_t value_len);
/** Number of pairs (0 for NULL). */
size_t lbc_metadata_count(const lbc_metadata *md);
/**
 * Borrow pair `index`: *key is NUL-terminated, *value is *value_len bytes (and
 * also NUL-terminated for convenience). Both live as long as `md`.
 * Returns LBC_OK, LBC_ERR_INVALID_ARGUMENT or LBC_ERR_OUT_OF_RANGE.
 */
int lbc_metadata_get(const lbc_metadata *md, size_t index, const char **key,
                     const uint8_t **value, size_t *value_len);

/* ------------------------------------------------------------------------- */
/* Channel                                                                    */
/* ------------------------------------------------------------------------- */

/** A load-balanced channel to a set of endpoints. Thread-safe. */
typedef struct lbc_channel lbc_channel;

/**
 * CONSTRUCTOR. Open a channel to `target` and start connecting to every
 * endpoint in the background; returns at once.
 *
 * Targets (gRPC naming syntax):
 *   ipv4:ADDR:PORT[,ADDR:PORT...]        e.g. "ipv4:127.0.0.2:50051,127.0.0.3:50051"
 *   ipv6:[ADDR]:PORT[,[ADDR]:PORT...]    e.g. "ipv6:[::1]:50051"
 *   unix:PATH  or  unix:///ABSOLUTE/PATH
 *   dns:///HOST[:PORT]  or  HOST[:PORT]  DNS via the system's servers (port 443 by default)
 *   dns://DNS_IP:DNS_PORT/HOST[:PORT]    DNS via that server
 *   manual:                              no discovery: endpoints come only from
 *                                        lbc_channel_set_endpoints()
 *   unix-abstract:, vsock:, xds:, google-c2p:  LBC_ERR_UNSUPPORTED in this version
 * With a lookup callback (lbc_options_set_lookup) the target is any text.
 * DNS names and lookups are re-resolved every discovery_interval_ms and early
 * when a connection is lost; new endpoints join when connected, vanished ones
 * finish their RPCs and close. `opts` may be NULL for all defaults; it is copied.
 *
 * Returns LBC_OK, LBC_ERR_INVALID_ARGUMENT, LBC_ERR_INVALID_TARGET,
 * LBC_ERR_UNSUPPORTED, LBC_ERR_RESOLUTION (eager resolution timed out),
 * LBC_ERR_RESOURCE (thread, epoll or eventfd creation failed) or LBC_ERR_FORKED
 * (only in a forked child of a build that links the Swift runtime dynamically,
 * which cannot be made fork-safe; the release build links it statically).
 */
int lbc_channel_open(const char *target, const lbc_options *opts, lbc_channel **out);

/**
 * DESTRUCTOR. Close the channel: RPCs still in flight on other threads end with
 * CANCELLED ("channel closed"), and so do streaming and asynchronous calls (their
 * events are posted; lbc_call handles stay valid until lbc_call_free()).
 * Connections close, the I/O thread exits. Later
 * calls with this handle return LBC_ERR_CLOSED (a closed handle is detected as
 * long as its address is not reused by a newer channel). NULL is a no-op.
 * Blocks until the I/O thread has exited and a running lookup or log callback
 * has returned. Only a callback bounds that wait: when one is still running
 * after 2 SECONDS (one waiting for a lock the closing thread holds, such as a
 * runtime's global lock) it is left running; close returns, no callback of the channel starts after
 * that, and the teardown completes on another thread once the callback returns
 * (so its user_data must stay valid until then). Called from the channel's own
 * lookup or log callback it returns at once and the teardown completes on
 * another thread. Otherwise, when it returns, no thread of the channel runs any
 * more (they have been joined): once every channel is closed and every call,
 * queue and watch freed, the library may be unloaded (dlclose; LuaJIT's
 * ffi.load unloads at exit).
 * In a forked child, closing a channel of the parent only forgets the handle
 * (see FORK above) and returns at once.
 * THREAD SAFETY: any thread; closing twice is harmless.
 */
void lbc_channel_close(lbc_channel *ch);

/**
 * Message of the most recent failing call on this channel made by the calling
 * thread ("" if none); the same text as lbc_last_errmsg() right after the
 * failure. Valid until the next lbc_* call on this thread.
 */
const char *lbc_channel_errmsg(const lbc_channel *ch);

/**
 * Take the next log line of a channel opened with lbc_options_set_log_queue():
 * *level receives its lbc_log_level, *message the line (release it with lbc_free).
 * Returns LBC_OK, LBC_ERR_WOULD_BLOCK (no line pending), LBC_ERR_RESOURCE (no
 * memory for the copy: the line stays first in line), LBC_ERR_INVALID_ARGUMENT
 * (a NULL argument, or the channel has no log queue), LBC_ERR_CLOSED or
 * LBC_ERR_FORKED. THREAD SAFETY: any thread; each line goes to one caller.
 */
int lbc_channel_next_log(lbc_channel *ch, int *level, char **message);

/**
 * Answer the due lookup of a channel opened with lbc_options_set_lookup_queue():
 * `addresses` holds `count` texts as for lbc_address_list_add() (count = 0: an
 * empty answer, handled by the empty_answer option), or `error` is non-NULL for a
 * failed lookup (the message is copied; the last known endpoints are kept and the
 * lookup is retried with backoff). An invalid address fails the lookup as from a
 * callback. Returns LBC_OK, LBC_ERR_INVALID_ARGUMENT (ch NULL, addresses NULL with
 * count > 0, a NULL address, the channel has no lookup queue, or no lookup is
 * due: answer each LBC_EVENT_LOOKUP once), LBC_ERR_CLOSED or LBC_ERR_FORKED.
 * THREAD SAFETY: any thread.
 */
int lbc_channel_answer_lookup(lbc_channel *ch, const char *const *addresses, size_t count,
                              const char *error);

/**
 * The message of the most recent failing call on this channel made by ANY thread
 * ("" if none), copied into `buf` (NUL-terminated, cut to size - 1 bytes).
 * For runtimes whose code moves between OS threads (Go's goroutines, green
 * threads, async executors), where lbc_last_errmsg() and lbc_channel_errmsg() —
 * per OS thread — may give another call's message: read it with this right after
 * the failure. It is exact while no other call on the same channel fails in
 * between; with concurrent failures on one channel, run the call and the read in
 * one native call (one cgo function) and use lbc_last_errmsg() there instead.
 * Failures of functions without a channel (options, metadata, calls, queues)
 * are only per thread: their codes say what went wrong.
 * Returns the message's length in bytes (it was cut when >= size; pass buf NULL
 * with size 0 to learn it), LBC_ERR_INVALID_ARGUMENT (ch NULL, or buf NULL with
 * size > 0), LBC_ERR_CLOSED or LBC_ERR_FORKED. Does not itself count as a
 * failure on the channel. THREAD SAFETY: any thread.
 */
int lbc_channel_errmsg_copy(const lbc_channel *ch, char *buf, size_t size);

/**
 * Replace the channel's endpoint set (push discovery, for callers that watch their
 * own registry). `addresses` holds `count` texts as for lbc_address_list_add();
 * all are validated first, nothing changes on error. New endpoints start
 * connecting; removed ones take no new RPCs and close after their RPCs finish.
 * RPCs started after this call returns see the new set. On a channel with DNS or
 * a lookup the next resolution replaces the pushed set; open with "manual:" for
 * push-only discovery. count = 0 empties the set.
 * Returns LBC_OK, LBC_ERR_INVALID_ARGUMENT (ch NULL, addresses NULL with count > 0,
 * a malformed address), LBC_ERR_CLOSED or LBC_ERR_FORKED. THREAD SAFETY: any thread.
 */
int lbc_channel_set_endpoints(lbc_channel *ch, const char *const *addresses, size_t count);

/**
 * A JSON snapshot of the channel (owned by the caller, release with lbc_free):
 *   {"target": "...", "policy": "round_robin", "endpoints": [
 *     {"address": "127.0.0.2:50051", "state": "READY", "health": null, "in_flight": 0,
 *      "calls_started": 10, "calls_failed": 0, "connect_failures": 0,
 *      "latency_ewma_us": 180, "cost": 0, "weight": 1, "pickable": true, "free_streams": 100,
 *      "ejected": false, "ejections": 0, "consecutive_failures": 0,
 *      "draining_connections": 0, "last_error": null}, ...],
 *    (TLS channels add to each endpoint "tls": {"full_handshakes": 1,
 *     "resumed_handshakes": 2, "last_full_handshake_us": 1400,
 *     "last_resumed_handshake_us": 950, "mean_full_handshake_us": 1380,
 *     "mean_resumed_handshake_us": 940, "last_full_ready_us": 1900,
 *     "last_resumed_ready_us": 1300}: counts and durations, ClientHello to
 *     Finished, of the TLS handshakes of the endpoint's connections; the "last_"
 *     figures belong to the last connection with a full and with a resumed
 *     handshake that became READY: its handshake time and the time from the start
 *     of its TCP connect to READY, updated together)
 *    (every endpoint has "keepalive": null, or with keepalive on {"time_ms": 10000,
 *     "pings_sent": 4, "pings_acked": 4, "last_rtt_us": 210, "dead_connections": 0,
 *     "too_many_pings": 0}: the keepalive time of its newest connection, PINGs
 *     sent and acknowledged, the last PING's round trip (null before the first
 *     ACK), connections declared dead for want of a PING ACK, and too_many_pings
 *     GOAWAYs received, summed over the endpoint's connections)
 *    "retired_endpoints": 0, "waiting_calls": 0, "ejected_endpoints": 0,
 *    "keepalive": null, or with keepalive on {"time_ms": 20000,
 *      "configured_time_ms": 10000, "timeout_ms": 20000,
 *      "permit_without_calls": false, "too_many_pings": 1} (time_ms: what new
 *      connections use, doubled after too_many_pings),
 *    "subset": {"size": 0, "discovered_endpoints": 3, "client_id": null},
 *    "discovery": {"kind": "dns", "resolutions": 3, "errors": 0, "empty_answers": 0,
 *      "updates": 1, "pushes": 0, "last_result": "ok", "last_error": null,
 *      "last_resolution_age_ms": 420},
 *    "metrics": {"latency_bounds_us": [1, 2, 4, ..., 1073741824], "max_methods": 1000,
 *      "methods": [{"method": "/pkg.Svc/Get", "attempts_started": 12,
 *        "attempts": {"OK": {"count": 10, "sum_us": 1830, "buckets": [0, ..., 0]},
 *                     "UNAVAILABLE": {"count": 2, "sum_us": 95, "buckets": [...]}},
 *        "calls": {"OK": {"count": 10, "sum_us": 2110, "buckets": [...]}}}, ...]}}
 * latency_ewma_us: moving average (weight 0.1 for the newest) of the time from
 * putting an RPC on the endpoint to its end; 0 before the first RPC.
 * cost: the balancer's current cost of the endpoint (lower is preferred), rounded:
 * least_request: outstanding calls; peak_ewma: latency estimate in µs ×
 * (outstanding + 1); 0 for the other policies. weight: from "ADDRESS;weight=N"
 * (weighted_round_robin), 1 by default. pickable: the endpoint
 * takes new calls now (READY, in the set, not ejected, a free stream slot, and
 * healthy when health checking is on).
 * free_streams: streams its connection may still open under the server's
 * SETTINGS_MAX_CONCURRENT_STREAMS (0 when not READY). When no endpoint has a free
 * slot, new calls wait (waiting_calls) until one does, or until their deadline;
 * a stream the server refuses for want of room (REFUSED_STREAM while others are
 * open) waits the same way. ejected / ejections / consecutive_failures: outlier
 * ejection (see the outlier_* options); ejected_endpoints counts those ejected now.
 * health: null when health checking is off (health_check_service unset), else
 * "PENDING" (no answer yet on the current connection, or none), "SERVING",
 * "NOT_SERVING" (also SERVICE_UNKNOWN and UNKNOWN), "FAILED" (the watch stream
 * failed; re-opened after a backoff) or "UNIMPLEMENTED" (no health service: used
 * as healthy). Only SERVING and UNIMPLEMENTED endpoints are pickable; "state" is
 * the connection's alone (READY while health is PENDING or NOT_SERVING).
 * subset: the subset_size and subset_client_id options (client_id null when
 * random) and how many endpoints the last update offered before subsetting;
 * "endpoints" lists only the subset.
 * States: IDLE, CONNECTING, READY, TRANSIENT_FAILURE. discovery.kind is "dns",
 * "lookup" or "static"; last_result is "ok", "empty", "error" or null.
 * metrics: per-method counts and latency histograms since the channel opened,
 * from which gRFC A66's OpenTelemetry metrics (with grpc.target = "target") are
 * built: grpc.client.attempt.started = attempts_started, and
 * grpc.client.attempt.duration / grpc.client.call.duration = the "attempts" /
 * "calls" histogram of each status (grpc.status = the key: "OK", "CANCELLED", ...,
 * "UNAUTHENTICATED"; statuses never seen are absent). "method" is the path as called
 * (A66's grpc.method is it without the leading '/'). An attempt starts when the
 * call reaches the channel's I/O work (before the endpoint is picked) and again
 * for each retry, transparent retry and hedged copy, and ends with that attempt's
 * status (a refused stream retried transparently: UNAVAILABLE); a call runs from
 * the same start to its final status, retries included. Calls cancelled or
 * refused before that (closed channel) are not counted; health-check streams
 * are not counted. Methods are listed in the order first seen; at most
 * max_methods (1000) distinct methods are kept, every further one is counted
 * under "method": "other" (the last entry), so unbounded method names cannot grow
 * memory (about 200 bytes per method and 300 per (attempts or calls, status) pair
 * seen: at most about 10 MB).
 * Histograms: "buckets" holds 32 counts for the fixed log-scale buckets whose
 * inclusive upper bounds are latency_bounds_us — powers of 2 in µs, 2^0 to 2^30
 * (about 17.9 minutes) — and a last, unbounded (+Inf) bucket; "count" is their
 * sum, "sum_us" the sum of the durations in µs. They map unchanged onto an
 * OpenTelemetry explicit-bucket histogram (bounds latency_bounds_us / 1e6 s) and
 * a Prometheus histogram (cumulate the counts for each `le`).
 * Cost: the figures are copied on the channel's I/O thread (about 0.2 µs per
 * endpoint, during which it serves no call) and the text is formatted on the
 * calling thread (about 3 µs per endpoint), so polling stats does not stall calls.
 * Returns LBC_OK, LBC_ERR_INVALID_ARGUMENT (ch or json_out NULL), LBC_ERR_CLOSED,
 * LBC_ERR_RESOURCE (no memory for the copy) or LBC_ERR_FORKED.
 */
int lbc_channel_stats_json(lbc_channel *ch, char **json_out);

/**
 * Certificate rotation: re-read the channel's TLS files (tls_ca_file, tls_ca_dir,
 * tls_cert_file, tls_key_file; PEM options are kept as given) and use them for
 * every connection made from now on. Existing connections keep working with the
 * settings they were made with; sessions cached for resumption are dropped.
 * Nothing changes on error.
 * Returns LBC_OK, LBC_ERR_INVALID_ARGUMENT (ch NULL, the channel does not use TLS,
 * or a file cannot be used: the message names the file and the reason),
 * LBC_ERR_CLOSED or LBC_ERR_RECURSIVE_CALL (called from this channel's log or
 * lookup callback). THREAD SAFETY: any thread. Blocks while the files are read.
 */
int lbc_channel_reload_tls(lbc_channel *ch);

/* ------------------------------------------------------------------------- */
/* Unary calls                                                                */
/* ------------------------------------------------------------------------- */

/** The result of a finished RPC. Read-only; release with lbc_response_free(). */
typedef struct lbc_response lbc_response;

/**
 * Run one unary RPC and block until it ends.
 *
 *   method      "/package.Service/Method": '/' then visible ASCII (0x21-0x7E);
 *               CR, LF, NUL, spaces and non-ASCII are refused (RFC 9113 §8.2.1)
 *   request     serialized request message (may be NULL when request_len is 0)
 *   metadata    request metadata, or NULL; copied
 *   timeout_ms  deadline relative to now; < 0 means no deadline
 *   out         receives the response object on LBC_OK
 *
 * The endpoint is chosen by the channel's policy among READY endpoints. While
 * endpoints are still connecting the RPC waits for one; when every endpoint is
 * in TRANSIENT_FAILURE it fails with UNAVAILABLE at once (or keeps waiting until
 * its deadline when wait_for_ready is set).
 *
 * Returns LBC_OK when the RPC finished (inspect lbc_response_status()),
 * LBC_ERR_INVALID_ARGUMENT (NULL channel/method/out, a method that is not '/'
 * followed by visible ASCII, request NULL with request_len > 0),
 * LBC_ERR_MESSAGE_TOO_LARGE (request above max_send_message_size),
 * LBC_ERR_CLOSED, LBC_ERR_RECURSIVE_CALL (called from this channel's log
 * callback) or LBC_ERR_FORKED. The request checks (method, size) are the
 * channel's own, the same for every function that starts a call.
 * While it waits, the calling thread runs the channel's I/O itself when no other
 * thread does (leader/follower: the I/O thread sleeps meanwhile), so a call
 * costs no thread wake-up; the channel's log callback may then run on this
 * thread, inside lbc_unary(), with the same rules as on the I/O thread, and
 * completion queue events of other calls are posted from it.
 * THREAD SAFETY: any thread, concurrently.
 */
int lbc_unary(lbc_channel *ch, const char *method, const void *request, size_t request_len,
              const lbc_metadata *metadata, int64_t timeout_ms, lbc_response **out);

/** DESTRUCTOR. NULL is a no-op. */
void lbc_response_free(lbc_response *resp);
/** gRPC status code (lbc_status_code) of the RPC; LBC_STATUS_INVALID_ARGUMENT for NULL. */
int lbc_response_status(const lbc_response *resp);
/** Status message, UTF-8 (percent-decoded), "" if none; lives as long as resp. */
const char *lbc_response_message(const lbc_response *resp);
/**
 * The response message bytes (NULL with *len = 0 when there is none, e.g. on error).
 * Lives as long as resp. `len` may be NULL.
 */
const uint8_t *lbc_response_data(const lbc_response *resp, size_t *len);
/** Response headers (initial metadata); never NULL for a valid resp; lives as long as resp. */
const lbc_metadata *lbc_response_headers(const lbc_response *resp);
/** Response trailers (trailing metadata, without grpc-status/grpc-message); lives as long as resp. */
const lbc_metadata *lbc_response_trailers(const lbc_response *resp);
/** Address of the endpoint that served the RPC ("" if none was picked); lives as long as resp. */
const char *lbc_response_peer(const lbc_response *resp);
/** How many attempts the RPC made: 1, or more when a retry policy retried it or
 *  hedging sent copies (transparent retries of requests the server never
 *  processed do not count); 0 when no endpoint was ever picked, and for NULL. */
int lbc_response_attempts(const lbc_response *resp);
/** Address of the endpoint of attempt `index` (0 .. lbc_response_attempts()-1, in
 *  order; the last is lbc_response_peer(), the one whose result this is -- for a
 *  hedged call the copies that did not win come first); NULL when index is out
 *  of range or resp is NULL. Lives as long as resp. */
const char *lbc_response_attempt_peer(const lbc_response *resp, int index);

/* ------------------------------------------------------------------------- */
/* Completion queues: asynchronous notification                              */
/* ------------------------------------------------------------------------- */

/**
 * A completion queue collects events of asynchronous unary calls, of
 * streaming calls started with it, of channel log lines (LBC_EVENT_LOG), due
 * lookups (LBC_EVENT_LOOKUP) and connectivity changes (LBC_EVENT_CONNECTIVITY), so
 * one thread (an event loop: asyncio, libuv, epoll) can drive any number of
 * calls without a thread per call.
 *
 * Its file descriptor (lbc_cq_fd) is readable while events are pending: add it
 * to your poll set, and when it is readable call lbc_cq_poll(cq, ..., 0) until
 * it returns 0. The queue signals the descriptor once per batch of events, not
 * once per event.
 *
 * THREAD SAFETY: any thread; usually one thread polls. A queue may serve calls
 * of several channels.
 */
/** What an lbc_event reports. */
typedef enum lbc_event_kind {
  /** An lbc_unary_async call ended; `response` holds its result. */
  LBC_EVENT_UNARY = 1,
  /** A streaming call changed; `flags` says how (LBC_CALL_* bits). */
  LBC_EVENT_CALL = 2,
  /** Log lines of a channel opened with lbc_options_set_log_queue() are pending:
   *  take them with lbc_channel_next_log() until LBC_ERR_WOULD_BLOCK. */
  LBC_EVENT_LOG = 3,
  /** A lookup of a channel opened with lbc_options_set_lookup_queue() is due:
   *  answer it once with lbc_channel_answer_lookup(). */
  LBC_EVENT_LOOKUP = 4,
  /** A connectivity watch (lbc_channel_watch_connectivity) reports a change:
   *  `state`, `old_state`, `address` and `flags` (LBC_CONNECTIVITY_* bits) say which. */
  LBC_EVENT_CONNECTIVITY = 5
} lbc_event_kind;

/** Bits of lbc_event.flags for LBC_EVENT_CALL (several may be set at once). */
typedef enum lbc_call_event_flag {
  /** Messages (or the end of the stream) can be read: lbc_call_recv(call, 0, ...)
   *  until it returns LBC_ERR_WOULD_BLOCK. Edge-triggered: drain before waiting again. */
  LBC_CALL_READABLE = 0x1,
  /** A send that returned LBC_ERR_WOULD_BLOCK can now be retried. */
  LBC_CALL_WRITABLE = 0x2,
  /** The response headers arrived (lbc_call_headers no longer blocks). */
  LBC_CALL_HEADERS = 0x4,
  /** The call ended: lbc_call_finish no longer blocks. The last event of a call. */
  LBC_CALL_DONE = 0x8
} lbc_call_event_flag;

/**
 * One event taken from a completion queue.
 *
 * EXTENSIBLE: later versions may append fields after `response` (never move,
 * resize or remove one). lbc_cq_poll() is therefore told the caller's
 * sizeof(lbc_event) and steps through the array by it: a program built against
 * this header gets exactly these fields from any newer library, and a program
 * built against a newer header reads its extra fields as zero from this one.
 */
typedef struct lbc_event {
  /** The `tag` given when the call was started (or the queue or watch was set up). */
  void *tag;
  /** An lbc_event_kind. */
  int kind;
  /** LBC_EVENT_CALL: LBC_CALL_* bits accumulated since the call's previous event.
   *  LBC_EVENT_CONNECTIVITY: LBC_CONNECTIVITY_* bits. Else 0. */
  unsigned flags;
  /** LBC_EVENT_UNARY: the result; the receiver owns it (lbc_response_free). Else NULL. */
  lbc_response *response;
  /* --- appended for connectivity events (only filled when event_size covers them) --- */
  /** LBC_EVENT_CONNECTIVITY: the new lbc_connectivity_state (of the channel, or of the
   *  endpoint named by `address`). Else 0. */
  int state;
  /** LBC_EVENT_CONNECTIVITY: the state before this change. Else 0. */
  int old_state;
  /** LBC_EVENT_CONNECTIVITY with LBC_CONNECTIVITY_ENDPOINT: the endpoint's address as
   *  lbc_channel_endpoint_connectivity() accepts it ("127.0.0.2:50051",
   *  "[::1]:50051", "unix:/path"), NUL-terminated; the receiver owns it (lbc_free).
   *  NULL for the channel's own changes (and if no memory was left for the copy). */
  char *address;
} lbc_event;

/** The smallest event_size lbc_cq_poll() accepts: the end of `response`, the last
 *  field of the first lbc_event (24 on LP64 platforms). A caller compiled with that
 *  first layout gets connectivity events without their appended fields. */
#define LBC_EVENT_MIN_SIZE (2 * sizeof(void *) + sizeof(lbc_response *))

/** CONSTRUCTOR. Returns LBC_OK, LBC_ERR_INVALID_ARGUMENT (out is NULL) or LBC_ERR_RESOURCE. */
int lbc_cq_new(lbc_cq **out);

/**
 * DESTRUCTOR. Calls still bound to the queue keep running; their later events
 * are dropped (responses of dropped unary events are freed). NULL is a no-op.
 * THREAD SAFETY: may be called while other threads are blocked in lbc_cq_poll
 * on the queue: they return LBC_ERR_CLOSED at once, and the queue's memory and
 * descriptor are released when the last of them has returned. (A poll *entered*
 * after lbc_cq_free has begun is a use after free.) Close the descriptor out of
 * your own poll set before freeing.
 */
void lbc_cq_free(lbc_cq *cq);

/** The queue's file descriptor, readable while events are pending (-1 for NULL,
 *  and for a parent's queue in a forked child).
 *  Owned by the queue: poll it, never read, write or close it. */
int lbc_cq_fd(const lbc_cq *cq);

/**
 * Take up to `max` pending events into `events`, waiting up to `timeout_ms`
 * for the first one (0: do not wait; < 0: wait forever).
 *
 *   events      an array of `max` slots of `event_size` bytes each
 *   event_size  sizeof(lbc_event) as the caller compiled it (see lbc_event):
 *               >= LBC_EVENT_MIN_SIZE; a multiple of the pointer size
 *
 * Returns the number of events taken (0 when none arrived in time),
 * LBC_ERR_INVALID_ARGUMENT (cq or events NULL, max <= 0, event_size too small
 * or not a multiple of the pointer size), LBC_ERR_CLOSED (another thread freed
 * the queue while this one waited) or LBC_ERR_FORKED (the parent's queue, in a
 * forked child). Slots beyond the returned count are left untouched.
 * THREAD SAFETY: any thread; several threads may poll one queue (each event
 * goes to one of them).
 * WAITING THREAD DRIVES THE I/O: when the queue has only ever carried
 * lbc_unary_async calls of one channel (it is not shared by several channels'
 * calls), a call with a timeout other than 0 waits by running that channel's
 * I/O itself while such calls are in flight and no other thread does (at most
 * one thread at a time: a second poller, or a blocking lbc_unary caller, waits
 * for it), so at one outstanding call no other thread wakes up. Channel
 * callbacks (log, lookup) may then run on this thread, as they may on a thread
 * blocked in lbc_unary. When it returns events it hands the I/O back without a
 * wake-up, expecting to be called again soon: calls still in flight then wait
 * for the next lbc_cq_poll (or at most a few milliseconds for the channel's
 * own thread). A queue that serves calls of several channels is waited on as
 * before (the channels' threads drive the I/O).
 */
int lbc_cq_poll(lbc_cq *cq, lbc_event *events, size_t event_size, int max, int64_t timeout_ms);

/** An asynchronous unary call (lbc_unary_async's handle), for cancelling it. */
typedef struct lbc_unary_call lbc_unary_call;

/**
 * Start a unary RPC and return at once; its result arrives on `cq` as an
 * LBC_EVENT_UNARY event carrying `tag` and the lbc_response: exactly one event
 * per call that returned LBC_OK, whatever happens to the handle.
 *
 *   out   receives the call's handle (lbc_unary_call_cancel, lbc_unary_call_free),
 *         or NULL when the caller will not cancel it
 *
 * Other arguments as for lbc_unary(). Returns LBC_OK, LBC_ERR_INVALID_ARGUMENT
 * (NULL ch/method/cq, request NULL with request_len > 0, a method refused as for
 * lbc_unary()), LBC_ERR_MESSAGE_TOO_LARGE, LBC_ERR_CLOSED or LBC_ERR_FORKED;
 * on failure no event follows and *out is untouched.
 * Unlike lbc_unary() it may be called from the channel's log callback.
 * THREAD SAFETY: any thread, concurrently.
 */
int lbc_unary_async(lbc_channel *ch, const char *method, const void *request, size_t request_len,
                    const lbc_metadata *metadata, int64_t timeout_ms, lbc_cq *cq, void *tag,
                    lbc_unary_call **out);

/**
 * Cancel the call: it ends with CANCELLED unless it has ended already, the
 * server sees RST_STREAM(CANCEL), and its one event still arrives (with the
 * CANCELLED response, or the result if the call ended first). Repeatable; any
 * thread, concurrently with lbc_cq_poll. Returns LBC_OK, LBC_ERR_INVALID_ARGUMENT
 * (call is NULL) or LBC_ERR_FORKED.
 */
int lbc_unary_call_cancel(lbc_unary_call *call);

/**
 * DESTRUCTOR of the handle only: the call runs on (cancel it first to stop it)
 * and its event still arrives. May be called before or after that event, from
 * any thread, but not concurrently with lbc_unary_call_cancel on the same handle.
 * NULL is a no-op.
 */
void lbc_unary_call_free(lbc_unary_call *call);

/**
 * SHORTCUT for callers without a handle: cancel the asynchronous unary call
 * started on `cq` with `tag` — only the most recent one when several share the
 * tag, and none once its event has been posted. Prefer lbc_unary_call_cancel.
 * Any thread. Returns LBC_OK (also when no such call is in flight),
 * LBC_ERR_INVALID_ARGUMENT (cq is NULL) or LBC_ERR_FORKED.
 */
int lbc_unary_cancel(lbc_cq *cq, void *tag);

/* ------------------------------------------------------------------------- */
/* Connectivity: the channel's state, without polling                         */
/* ------------------------------------------------------------------------- */

/**
 * gRPC's connectivity states (grpc/grpc doc/connectivity-semantics-and-api.md),
 * of the channel and of each endpoint.
 *
 * CHANNEL: READY if any endpoint is READY; else CONNECTING if any is
 * CONNECTING; else IDLE if any is IDLE; else TRANSIENT_FAILURE (every endpoint
 * is failing and waits for its backoff). Only endpoints in the set count (not
 * removed ones finishing their RPCs). With no endpoint at all: CONNECTING until
 * discovery first answers (dns:, lookups; a fixed ipv4:/ipv6:/unix: target
 * for the instant before its endpoints join), IDLE on a "manual:" channel before
 * its first lbc_channel_set_endpoints(), and TRANSIENT_FAILURE once discovery
 * answered with no endpoint, a lookup failed with none known, or an empty set
 * was pushed. SHUTDOWN once lbc_channel_close() was called, for good.
 *
 * ENDPOINT: CONNECTING while a connection is being made (also until its server's
 * SETTINGS allow streams), READY while one takes streams (also when all its
 * stream slots are in use), TRANSIENT_FAILURE after a failed attempt until the
 * next one (connection backoff), IDLE after an early GOAWAY until it reconnects.
 * With health_check_service set (gRFC A17), a connected endpoint is CONNECTING
 * until its first health answer and TRANSIENT_FAILURE while its server reports
 * anything but SERVING or its watch stream failed.
 * Outlier ejection does not change it. An address not in the set is SHUTDOWN.
 * The channel connects to every endpoint at once: there is no "try to connect".
 */
typedef enum lbc_connectivity_state {
  LBC_CONN_IDLE = 0,
  LBC_CONN_CONNECTING = 1,
  LBC_CONN_READY = 2,
  LBC_CONN_TRANSIENT_FAILURE = 3,
  LBC_CONN_SHUTDOWN = 4
} lbc_connectivity_state;

/**
 * The channel's current lbc_connectivity_state (>= 0), without waiting: a value
 * kept up to date by the I/O thread, no round trip. LBC_CONN_SHUTDOWN for a
 * closed channel. Errors (< 0): LBC_ERR_INVALID_ARGUMENT (ch NULL) or
 * LBC_ERR_FORKED. THREAD SAFETY: any thread; also from the channel's callbacks.
 */
int lbc_channel_connectivity(const lbc_channel *ch);

/**
 * The lbc_connectivity_state (>= 0) of the endpoint `address` of the channel's set,
 * as written for lbc_channel_set_endpoints() without ";weight=" (compared as
 * parsed: "127.0.0.2:50051", "[::1]:50051", "unix:/tmp/s"); LBC_CONN_SHUTDOWN when
 * it is not in the set (never was, or was removed). Waits for the I/O thread (a
 * round trip, like lbc_channel_stats_json). Errors (< 0): LBC_ERR_INVALID_ARGUMENT
 * (ch or address NULL, address not parsable), LBC_ERR_CLOSED or LBC_ERR_FORKED.
 * THREAD SAFETY: any thread, also from the channel's log callback.
 */
int lbc_channel_endpoint_connectivity(const lbc_channel *ch, const char *address);

/** Flags of lbc_channel_watch_connectivity(). */
typedef enum lbc_watch_flag {
  /** Report every endpoint's changes too, and endpoints joining and leaving the set. */
  LBC_WATCH_ENDPOINTS = 0x1
} lbc_watch_flag;

/** Bits of lbc_event.flags for LBC_EVENT_CONNECTIVITY (0: the channel's state changed). */
typedef enum lbc_connectivity_event_flag {
  /** An endpoint's change; `address` names it (only with LBC_WATCH_ENDPOINTS). */
  LBC_CONNECTIVITY_ENDPOINT = 0x1,
  /** With ENDPOINT: the endpoint joined the set, in `state` (`old_state` == `state`). */
  LBC_CONNECTIVITY_ADDED = 0x2,
  /** With ENDPOINT: the endpoint left the set; `state` is LBC_CONN_SHUTDOWN, `old_state`
   *  its last state. (Its connections may still finish RPCs: no more events of it.) */
  LBC_CONNECTIVITY_REMOVED = 0x4,
  /** The watch's last event: no event with its tag follows. At close `state` is
   *  LBC_CONN_SHUTDOWN; after lbc_connectivity_watch_free `state` == `old_state` ==
   *  the channel's state then. */
  LBC_CONNECTIVITY_LAST = 0x8
} lbc_connectivity_event_flag;

/** A persistent connectivity subscription (lbc_channel_watch_connectivity). */
typedef struct lbc_connectivity_watch lbc_connectivity_watch;

/**
 * CONSTRUCTOR. Subscribe to the channel's connectivity changes: from now until the
 * watch ends, every change of the channel's state posts one LBC_EVENT_CONNECTIVITY
 * event with `tag` to `cq` (flags 0, `state` and `old_state` the channel's), in
 * the order the changes happened; with LBC_WATCH_ENDPOINTS in `flags` every change
 * of an endpoint's state, and every endpoint joining or leaving the set, too
 * (LBC_CONNECTIVITY_ENDPOINT, `address` allocated for you: lbc_free it), posted
 * before the channel change it causes. No event reports the state at the time of
 * the call: read lbc_channel_connectivity() AFTER this returns; a change after
 * that read arrives as an event (old_state may then equal what you read).
 * Events are not coalesced: a flapping endpoint posts one event per change
 * (at most a few per connection backoff period).
 *
 * PERSISTENT: the watch ends, with exactly one last event carrying
 * LBC_CONNECTIVITY_LAST, either when the channel closes (`state`
 * LBC_CONN_SHUTDOWN, posted during lbc_channel_close(), before it returns) or at
 * lbc_connectivity_watch_free(), whichever comes first; no event with its tag
 * follows that one, so it is the moment to release what `tag` points to. (If `cq`
 * was freed first, events are dropped and so is the last one.)
 *
 *   flags  0 or LBC_WATCH_ENDPOINTS
 *   out    receives the watch (release with lbc_connectivity_watch_free, also after
 *          the channel closed), or NULL when the watch is to last until the channel
 *          closes
 *
 * Any number of watches per channel and per queue. `cq` is kept alive by the
 * watch. Returns LBC_OK, LBC_ERR_INVALID_ARGUMENT (ch or cq NULL, unknown flag
 * bits), LBC_ERR_CLOSED (the channel is closed: no event follows) or LBC_ERR_FORKED;
 * on failure no event follows and *out is untouched.
 * THREAD SAFETY: any thread; events are posted from the channel's I/O thread
 * and from the thread calling lbc_channel_close() or lbc_connectivity_watch_free().
 * No application code runs on a library thread (safe for LuaJIT and the like).
 */
int lbc_channel_watch_connectivity(lbc_channel *ch, lbc_cq *cq, void *tag, unsigned flags,
                                   lbc_connectivity_watch **out);

/**
 * DESTRUCTOR. End the watch (its LBC_CONNECTIVITY_LAST event is posted now, unless
 * the channel closed first and posted it already) and release the handle. After it
 * returns no further event of the watch is posted; the last one may still be
 * pending in the queue. NULL is a no-op. THREAD SAFETY: any thread, once per watch.
 */
void lbc_connectivity_watch_free(lbc_connectivity_watch *watch);

/* ------------------------------------------------------------------------- */
/* Streaming calls                                                            */
/* ------------------------------------------------------------------------- */

/**
 * A call of any shape (client, server or bidirectional streaming; unary too).
 * The stream stays on the endpoint its first pick chose.
 *
 * Back-pressure both ways: received messages are held in the call until
 * lbc_call_recv takes them, and the HTTP/2 flow-control window is returned to
 * the server only as they are taken, so a slow reader slows the server down
 * and the call buffers at most about one window (the `stream_window_bytes`
 * option) plus one message. Sent messages wait in a buffer of
 * `stream_send_buffer_bytes`; when it is full, lbc_call_send blocks (or
 * returns LBC_ERR_WOULD_BLOCK) until the network takes them.
 *
 * THREAD SAFETY: one thread may send while another receives; lbc_call_cancel
 * may be called from any thread at any time. Do not call the same function
 * concurrently on one call (two senders, two receivers).
 *
 * LIFETIME: lbc_call_free may be called while other threads are blocked in
 * lbc_call_send, lbc_call_recv, lbc_call_headers or lbc_call_finish on the same
 * call: it cancels the call and wakes them at once with LBC_ERR_CLOSED, and the
 * call's memory is released when the last of them has returned. A function
 * *entered* after lbc_call_free has begun is a use after free, as for any
 * destructor: the thread that frees must know no new use will start.
 */
typedef struct lbc_call lbc_call;

/** Flags of lbc_call_send. */
typedef enum lbc_send_flag {
  /** The last message: close the send side after it. */
  LBC_SEND_END = 0x1
} lbc_send_flag;

/** lbc_call_recv's positive result. */
typedef enum lbc_recv_result {
  /** No more messages (not an error; see lbc_call_finish). */
  LBC_END = 1
} lbc_recv_result;

/**
 * Start a call and return at once (picking an endpoint and opening the stream
 * happen on the channel's I/O thread; a failure shows up as the call's status).
 *
 *   method      "/package.Service/Method", as for lbc_unary()
 *   metadata    request metadata, or NULL; copied
 *   timeout_ms  deadline for the whole call, relative to now; < 0: none
 *   cq, tag     a completion queue for LBC_EVENT_CALL events with `tag`, or NULL
 *               for blocking use only
 *   out         receives the call; release it with lbc_call_free()
 *
 * Returns LBC_OK, LBC_ERR_INVALID_ARGUMENT (NULL channel/method/out, a method
 * refused as for lbc_unary()) or LBC_ERR_CLOSED. With a queue,
 * events (e.g. LBC_CALL_DONE for a call that fails at once) may be posted
 * before this function returns.
 * THREAD SAFETY: any thread, concurrently.
 */
int lbc_call_start(lbc_channel *ch, const char *method, const lbc_metadata *metadata,
                   int64_t timeout_ms, lbc_cq *cq, void *tag, lbc_call **out);

/**
 * Queue one message for sending (copied). With LBC_SEND_END the send side is
 * closed after it. When the send buffer is full, waits up to `timeout_ms` for
 * room (0: do not wait; < 0: wait as long as the call lasts). A message is
 * always accepted into an empty buffer, whatever its size.
 *
 * Returns LBC_OK (queued), LBC_ERR_WOULD_BLOCK (no room in time: nothing was
 * queued; with a completion queue an LBC_CALL_WRITABLE event follows when
 * there is room), LBC_ERR_CALL_FINISHED (the call has ended: see
 * lbc_call_finish), LBC_ERR_SEND_CLOSED (the send side was closed; reported
 * in preference to LBC_ERR_CALL_FINISHED), LBC_ERR_MESSAGE_TOO_LARGE (above
 * max_send_message_size), LBC_ERR_RECURSIVE_CALL (a blocking send on the
 * channel's I/O thread), LBC_ERR_CLOSED (another thread freed the call while
 * this one waited), LBC_ERR_FORKED or LBC_ERR_INVALID_ARGUMENT (call NULL,
 * message NULL with len > 0, unknown flags).
 */
int lbc_call_send(lbc_call *call, const void *message, size_t len, unsigned flags, int64_t timeout_ms);

/** Close the send side (half-close) once the queued messages are sent. Does not
 *  wait. Returns LBC_OK (also when already closed or the call has ended) or
 *  LBC_ERR_INVALID_ARGUMENT. */
int lbc_call_close_send(lbc_call *call);

/**
 * Take the next received message, waiting up to `timeout_ms` (0: do not wait;
 * < 0: as long as the call lasts).
 *
 * Returns LBC_OK with the message in *message / *len (release it with
 * lbc_free; a zero-length message gives a non-NULL pointer), LBC_END when the
 * call has ended and every message has been taken (then lbc_call_finish tells
 * how it ended), LBC_ERR_WOULD_BLOCK when nothing arrived in time,
 * LBC_ERR_RESOURCE (no memory for the copy: the message stays first in line,
 * nothing changed), LBC_ERR_RECURSIVE_CALL (a blocking receive on the I/O
 * thread), LBC_ERR_CLOSED (another thread freed the call while this one
 * waited), LBC_ERR_FORKED or LBC_ERR_INVALID_ARGUMENT (call, message or len NULL).
 * WAITING THREAD DRIVES THE I/O: on a call started without a completion queue
 * (or whose queue gets only LBC_CALL_DONE: lbc_call_set_events(call, 0)),
 * a thread waiting here (timeout other than 0) — and likewise in a blocking
 * lbc_call_send (buffer full), lbc_call_headers or lbc_call_finish — runs the
 * channel's I/O itself while no other thread does (one thread at a time; the
 * others wait for it, as blocking lbc_unary callers do), so a ping-pong on one
 * stream (lbc_call_send, then lbc_call_recv) wakes no other thread. When its
 * message arrives it hands the I/O back without a wake-up, expecting to wait
 * again soon: nothing then reads the channel's sockets until the next wait, or
 * at most a few milliseconds, when the I/O thread resumes. A wait that times out
 * resumes the I/O thread at once. Channel callbacks (log, lookup) may run on the
 * waiting thread, as inside lbc_unary(). Calls with a queue wait as before.
 */
int lbc_call_recv(lbc_call *call, int64_t timeout_ms, void **message, size_t *len);

/**
 * lbc_call_recv() into the caller's buffer: the one copy a received message
 * needs to reach memory the caller owns (a language runtime's bytes object).
 * Waits for the next message as lbc_call_recv() does, then sets *len to its size
 * and, if it fits (*len <= cap), copies it into `buf` and takes it: LBC_OK. If it
 * does not fit, nothing is copied or taken (the message stays first in line) and
 * the result is LBC_ERR_OUT_OF_RANGE with *len the room it needs: allocate that
 * much and call again (timeout 0 will do). A probe with buf NULL and cap 0 thus
 * tells the size of the next message (and takes it if it is empty).
 *
 *   buf  where the message goes; NULL only with cap 0. Borrowed for the call.
 *   cap  the size of buf in bytes
 *   len  receives the message's size (with LBC_OK and LBC_ERR_OUT_OF_RANGE)
 *
 * Other results as for lbc_call_recv() (LBC_END, LBC_ERR_WOULD_BLOCK,
 * LBC_ERR_RECURSIVE_CALL, LBC_ERR_CLOSED, LBC_ERR_FORKED), and
 * LBC_ERR_INVALID_ARGUMENT (call or len NULL, buf NULL with cap > 0).
 * THREAD SAFETY: as lbc_call_recv() (one receiver at a time per call).
 */
int lbc_call_recv_into(lbc_call *call, int64_t timeout_ms, void *buf, size_t cap, size_t *len);

/**
 * The response headers (initial metadata), waiting up to `timeout_ms` for them.
 * A call that ends without headers (e.g. a trailers-only response) gives an
 * empty list. *out lives as long as the call. Returns LBC_OK,
 * LBC_ERR_WOULD_BLOCK, LBC_ERR_RECURSIVE_CALL, LBC_ERR_CLOSED (freed by another
 * thread meanwhile), LBC_ERR_FORKED or LBC_ERR_INVALID_ARGUMENT (call or out NULL).
 */
int lbc_call_headers(lbc_call *call, int64_t timeout_ms, const lbc_metadata **out);

/**
 * Wait up to `timeout_ms` for the call to end and report how it ended: the gRPC
 * status code, its message ("" if none) and the trailers. Does not cancel and
 * does not discard unread messages. The out-pointers may each be NULL; the
 * strings and metadata live as long as the call. Returns LBC_OK,
 * LBC_ERR_WOULD_BLOCK, LBC_ERR_RECURSIVE_CALL, LBC_ERR_CLOSED (freed by another
 * thread meanwhile), LBC_ERR_FORKED or LBC_ERR_INVALID_ARGUMENT (call NULL).
 */
int lbc_call_finish(lbc_call *call, int64_t timeout_ms, int *status, const char **message,
                    const lbc_metadata **trailers);

/**
 * Cancel the call: it ends with CANCELLED (unless it has ended already) and
 * the server sees RST_STREAM(CANCEL). Any thread, at any time, repeatable.
 * Returns LBC_OK or LBC_ERR_INVALID_ARGUMENT.
 */
int lbc_call_cancel(lbc_call *call);

/**
 * Choose which LBC_CALL_* events of this call are posted to its completion
 * queue from now on: `events` is an OR of LBC_CALL_READABLE, LBC_CALL_WRITABLE
 * and LBC_CALL_HEADERS; LBC_CALL_DONE is always posted. The default is all of
 * them. A binding that only waits for the end on the queue (and receives with
 * blocking lbc_call_recv) passes 0, so the queue's poller is not woken for
 * every message; a thread waiting in a blocking lbc_call_recv (send, headers,
 * finish) on such a call then drives the channel's I/O itself, as on a call
 * without a queue (see lbc_call_recv). Flags already posted stay posted. Without
 * a queue it has no effect. Returns LBC_OK or LBC_ERR_INVALID_ARGUMENT (call NULL, unknown bits).
 * THREAD SAFETY: any thread. Since 1.1.
 */
int lbc_call_set_events(lbc_call *call, unsigned events);

/** Address of the endpoint the call was put on ("" until then, for NULL, and for a
 *  parent's call in a forked child); lives as long as the call. Never fails. */
const char *lbc_call_peer(const lbc_call *call);

/** How many attempts the call has made so far (as lbc_response_attempts: retries
 *  count, transparent retries do not; 0 before an endpoint was picked, for NULL
 *  and for a parent's call in a forked child). Final once the call ended. Any
 *  thread. Never fails. */
int lbc_call_attempts(const lbc_call *call);

/** Address of the endpoint of attempt `index` (0 .. lbc_call_attempts()-1, in
 *  order; the last is lbc_call_peer()); NULL when index is out of range or call
 *  is NULL. Lives as long as the call. */
const char *lbc_call_attempt_peer(const lbc_call *call, int index);

/**
 * DESTRUCTOR. Cancels the call if it has not ended and drops what it buffered.
 * Threads blocked on the call return LBC_ERR_CLOSED (see LIFETIME above); the
 * pointers lbc_call_headers/lbc_call_finish/lbc_call_peer gave become invalid.
 * Events: when lbc_call_free returns, no event of the call is in any event
 * array and none will be — a concurrent lbc_cq_poll that was filling one has
 * finished, and an event still queued is dropped. (A poll running concurrently
 * may thus return an event it filled just before the free: check your own
 * record of freed calls there, or free calls on the polling thread.) After the
 * call's LBC_CALL_DONE event, no other event of it follows. Returns at once
 * (never waits for the network). NULL is a no-op.
 */
void lbc_call_free(lbc_call *call);

#ifdef __cplusplus
}
#endif

#endif /* LBCHANNEL_H */
