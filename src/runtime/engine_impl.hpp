// Internal to src/runtime: the engine's state (Engine::Impl), listeners, and the connection base
// class shared by the TCP/TLS (stream_connection.hpp) and WS/WSS (ws_connection.hpp) transports.
// Completion handlers keep their object alive with a shared_ptr and return at once when it was
// closed, so nothing touches a stopped engine.
#pragma once
#include <utility>  // before Asio: Boost 1.74 headers miss it under g++ 12 C++23

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include "referkit/runtime/engine.hpp"

namespace referkit::runtime {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;
using TlsSocket = ssl::stream<tcp::socket>;

inline std::optional<asio::ip::address> ip_literal(const std::string& host) {
    error_code ec;
    auto a = asio::ip::make_address(host, ec);
    if (ec) return std::nullopt;
    return a;
}

inline Endpoint endpoint_of(const asio::ip::address& a, std::uint16_t port) { return Endpoint{a.to_string(), port}; }

// Same host (IP literals compared by value) and port.
inline bool same_remote(const Endpoint& a, const Endpoint& b) {
    if (a.port != b.port) return false;
    if (a.host == b.host) return true;
    auto x = ip_literal(a.host);
    auto y = ip_literal(b.host);
    return x && y && *x == *y;
}

inline std::string random_invalid_host() {
    std::random_device rd;
    std::string s;
    constexpr std::string_view alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int i = 0; i < 12; ++i) s.push_back(alphabet[rd() % alphabet.size()]);
    return s + ".invalid";
}

// ----------------------------------------------------------------------------- declarations

struct Conn;

struct UdpListener : std::enable_shared_from_this<UdpListener> {
    UdpListener(asio::io_context& io, Engine::Impl& owner) : socket(io), impl(&owner) {}
    void read();
    udp::socket socket;
    Engine::Impl* impl;
    Endpoint local;
    std::vector<char> buffer;
    udp::endpoint from;
    bool closed = false;
};

// Accepting never spins: when accept() fails for want of descriptors (EMFILE, ENFILE, ENOBUFS,
// ENOMEM) the connection stays in the kernel's backlog and the listening socket stays readable, so
// an immediate retry would fail again at once, forever. Instead accepting pauses — 100 ms, doubling
// up to 1 s while it keeps failing — or until one of our connections closes (resume()), logged
// once per pause episode. Other errors (a peer that reset before accept) are retried at once, but
// eight in a row pause too.
struct Acceptor : std::enable_shared_from_this<Acceptor> {
    static constexpr std::chrono::milliseconds first_pause{100};
    static constexpr std::chrono::milliseconds longest_pause{1000};

    Acceptor(asio::io_context& io, Engine::Impl& owner) : acceptor(io), impl(&owner), pause_timer(io) {}
    void accept();
    void failed(const error_code& ec);
    void resume();
    tcp::acceptor acceptor;
    Engine::Impl* impl;
    Transport transport = Transport::tcp;
    std::string ws_path;
    Endpoint local;
    bool closed = false;
    asio::steady_timer pause_timer;
    bool paused = false;
    bool episode_logged = false;  // the current run of failures has been logged
    std::chrono::milliseconds next_pause = first_pause;
    int errors_in_a_row = 0;
};

struct Engine::Impl : std::enable_shared_from_this<Engine::Impl> {
    Impl(asio::io_context& io_, Driven& core_, EngineOptions options)
        : io(io_), core(core_), opt(std::move(options)), epoch(Clock::now()), timer(io_), resolver(io_) {}

    asio::io_context& io;
    Driven& core;
    EngineOptions opt;
    Clock::time_point epoch;
    asio::steady_timer timer;
    std::optional<Time> armed;
    tcp::resolver resolver;
    std::optional<ssl::context> server_tls;
    std::optional<ssl::context> client_tls;
    std::vector<std::shared_ptr<UdpListener>> udp_listeners;
    std::vector<std::shared_ptr<Acceptor>> acceptors;
    std::vector<std::pair<Transport, Endpoint>> locals;
    std::unordered_map<ConnectionId, std::shared_ptr<Conn>> conns;
    // Accepted connections open per peer IP address (max_connections_per_source).
    std::map<asio::ip::address, std::size_t> per_source;
    // Connections over the cap since the last log line, and when that line was written: one line
    // per burst of refusals (at most one per cap_log_interval).
    std::uint64_t refused_since_log = 0;
    std::optional<Time> cap_logged_at;
    static constexpr std::chrono::seconds cap_log_interval{10};
    // Plain TCP connections wait for readability without a buffer and read into this one, shared
    // by every connection of the engine (single-threaded): an idle connection holds no read buffer.
    std::vector<char> read_buffer;
    ConnectionId next_connection = 1;
    EngineCounters counters;
    bool started = false;
    bool stopped = false;
    bool in_step = false;
    std::vector<TransactionId> failed;  // transport errors found while flushing

    [[nodiscard]] Time now() const {
        return std::chrono::duration_cast<Time>(Clock::now() - epoch);
    }
    void log(const std::string& line) const {
        if (opt.log) opt.log(line);
    }

    std::expected<void, std::string> start();
    void stop();

    // One step (driven.hpp): input, flush, after_step, flush, re-arm.
    template <class F>
    void step(F&& input) {
        if (stopped) return;
        if (in_step) {  // an input found while flushing (never expected): run it inside this step
            input(now());
            return;
        }
        in_step = true;
        const Time t = now();
        input(t);
        flush(t);
        // Transmits issued by after_step that fail synchronously raise events: step again.
        for (int i = 0; i < 16 && !stopped; ++i) {
            core.after_step(t);
            if (!flush(t)) break;
        }
        in_step = false;
        if (!stopped) rearm();
    }
    // Hands every transmit to its transport; returns true when transport errors were reported.
    bool flush(Time t) {
        bool reported = false;
        for (int round = 0; round < 64; ++round) {
            while (auto tx = core.poll_transmit()) dispatch(std::move(*tx));
            if (failed.empty()) break;
            auto ids = std::move(failed);
            failed.clear();
            for (TransactionId id : ids) core.transport_error(id, t);
            reported = true;
        }
        return reported;
    }
    // A transmit of `id` could not be sent: inside a step it joins the step, else it is a step.
    void report_failure(TransactionId id) {
        ++counters.send_failures;
        if (!id) return;
        if (in_step) {
            failed.push_back(id);
            return;
        }
        step([&](Time t) { core.transport_error(id, t); });
    }
    void report_failures(const std::vector<TransactionId>& ids) {
        if (ids.empty()) return;
        counters.send_failures += ids.size();
        if (in_step) {
            failed.insert(failed.end(), ids.begin(), ids.end());
            return;
        }
        step([&](Time t) {
            for (TransactionId id : ids)
                if (id) core.transport_error(id, t);
        });
    }

    void rearm() {
        const std::optional<Time> d = core.next_deadline();
        if (d == armed) return;
        armed = d;
        if (!d) {
            timer.cancel();
            return;
        }
        timer.expires_at(epoch + std::chrono::duration_cast<Clock::duration>(*d));
        timer.async_wait([weak = weak_from_this()](const error_code& ec) {
            auto self = weak.lock();
            if (!self || self->stopped || ec == asio::error::operation_aborted) return;
            self->armed.reset();
            self->step([&](Time t) { self->core.on_timer(t); });
        });
    }

    void dispatch(Transmit tx);
    void send_udp(const Transmit& tx, const asio::ip::address& to);
    void send_stream(Transmit tx);
    std::shared_ptr<Conn> make_conn(Transport t, Endpoint remote, bool outgoing, tcp::socket socket,
                                    const std::string& ws_path);
    void accepted(Transport t, tcp::socket socket, const std::string& ws_path);
    bool over_cap(const asio::ip::address& peer);
    void remove(ConnectionId id);
    std::vector<char>& shared_read_buffer() {
        if (read_buffer.empty()) read_buffer.resize(65536);
        return read_buffer;
    }

    // Name resolution seam: A/AAAA via getaddrinfo. RFC 3263 (NAPTR, SRV) belongs here later; it
    // would also pick the transport and port when the core leaves them open.
    template <class Handler>
    void resolve(const Endpoint& remote, Handler&& handler) {
        resolver.async_resolve(remote.host, std::to_string(remote.port), tcp::resolver::numeric_service,
                               [weak = weak_from_this(), h = std::forward<Handler>(handler)](
                                   const error_code& ec, tcp::resolver::results_type results) mutable {
                                   auto self = weak.lock();
                                   if (!self || self->stopped) return;
                                   std::vector<asio::ip::address> out;
                                   if (!ec)
                                       for (const auto& r : results) out.push_back(r.endpoint().address());
                                   h(ec, std::move(out));
                               });
    }
};

// ----------------------------------------------------------------------------- connections

struct Conn : std::enable_shared_from_this<Conn> {
    enum class State : std::uint8_t { connecting, open, closing, closed };
    struct Pending {
        SharedBuffer bytes;
        TransactionId id;
        bool keepalive = false;  // an RFC 5626 ping or pong: does not count as activity
    };

    Conn(Engine::Impl& impl_, ConnectionId id_, Transport t, Endpoint remote_, bool outgoing_)
        : impl(&impl_), id(id_), transport(t), remote(std::move(remote_)), outgoing(outgoing_),
          watchdog(impl_.io) {}
    virtual ~Conn() = default;
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    Engine::Impl* impl;
    ConnectionId id;
    Transport transport;
    Endpoint remote;        // the peer's address (IP literal) once known, else the destination
    std::string dest_host;  // outgoing: the host the core asked for (a name or a literal)
    bool outgoing;
    std::optional<asio::ip::address> source;  // accepted: the peer's address, counted in per_source
    State state = State::connecting;
    std::deque<Pending> queue;
    bool writing = false;
    // Requests written here, for transport_error when the connection dies (§18: a reset ends the
    // transactions that wait on it). Responses are not listed. Bounded; stale ids are ignored.
    std::deque<TransactionId> requests_sent;
    asio::steady_timer watchdog;
    std::optional<Time> watchdog_at;
    Time last_activity{};  // the last SIP message sent or received (keep-alives do not count)
    std::optional<Time> incomplete_since;
    std::optional<Time> next_ping;
    std::optional<Time> pong_deadline;  // RFC 5626 §4.4.1: a ping not answered in time fails the flow
    std::optional<Time> connect_deadline;

    [[nodiscard]] bool usable() const { return state == State::connecting || state == State::open; }

    virtual void connect(const std::vector<asio::ip::address>& addresses) = 0;
    virtual void start_accepted() = 0;
    virtual void write_front() = 0;
    virtual void close_stream() = 0;
    [[nodiscard]] virtual bool crlf_keepalive() const = 0;

    void send(SharedBuffer bytes, TransactionId tid, bool keepalive = false) {
        queue.push_back(Pending{std::move(bytes), tid, keepalive});
        if (state == State::open) pump();
    }
    void pump() {
        if (writing || queue.empty() || state == State::closed) return;
        writing = true;
        write_front();
    }
    // Completion of write_front().
    void written(const error_code& ec) {
        writing = false;
        if (state == State::closed) return;
        if (ec) {
            impl->log("write to " + transport_name_s() + " " + format_hostport(remote) + " failed: " + ec.message());
            close(true);
            return;
        }
        Pending done = std::move(queue.front());
        queue.pop_front();
        if (done.id && !done.bytes.view().starts_with("SIP/")) {
            requests_sent.push_back(done.id);
            if (requests_sent.size() > 1024) requests_sent.pop_front();
        }
        if (!done.keepalive) touch();
        if (queue.empty() && state == State::closing) {
            close(false);
            return;
        }
        pump();
    }
    void opened() {
        if (state != State::connecting) return;
        state = State::open;
        connect_deadline.reset();
        if (outgoing) ++impl->counters.connections_opened;
        if (outgoing && crlf_keepalive() && impl->opt.keepalive_interval.count() > 0)
            next_ping = impl->now() + std::chrono::duration_cast<Time>(impl->opt.keepalive_interval);
        touch();
        pump();
    }
    void touch() {
        last_activity = impl->now();
        schedule();
    }
    [[nodiscard]] std::string transport_name_s() const { return std::string(transport_name(transport)); }

    // Closes at once. report: transactions whose messages were queued or written here get a
    // transport_error. Queued transmits always do (they were never sent).
    void close(bool report) {
        if (state == State::closed) return;
        state = State::closed;
        watchdog.cancel();
        close_stream();
        std::vector<TransactionId> ids;
        for (const Pending& p : queue)
            if (p.id) ids.push_back(p.id);
        queue.clear();
        if (report) ids.insert(ids.end(), requests_sent.begin(), requests_sent.end());
        requests_sent.clear();
        auto self = shared_from_this();  // keep alive while leaving the map
        impl->remove(id);
        impl->report_failures(ids);
    }
    // Sends what is queued (an answer to a framing error), then closes. Stops reading.
    void close_after_writes() {
        if (state == State::closed) return;
        if (queue.empty() && !writing) {
            close(false);
            return;
        }
        state = State::closing;
    }
    void connect_failed(const std::string& why) {
        ++impl->counters.connect_failures;
        impl->log(transport_name_s() + " connection to " + format_hostport(remote) + " refused: " + why);
        close(true);
    }

    // One timer per connection: connect bound, idle timeout, incomplete message, keep-alive ping.
    void schedule() {
        if (state == State::closed) return;
        std::optional<Time> at;
        auto earliest = [&](std::optional<Time> t) {
            if (t && (!at || *t < *at)) at = t;
        };
        const auto& o = impl->opt;
        earliest(connect_deadline);
        // While a message is incomplete, incomplete_message_timeout bounds the connection instead.
        if (o.tcp_idle_timeout.count() > 0 && !keeps_own_flow() && !incomplete_since)
            earliest(last_activity + std::chrono::duration_cast<Time>(o.tcp_idle_timeout));
        if (incomplete_since)
            earliest(*incomplete_since + std::chrono::duration_cast<Time>(o.incomplete_message_timeout));
        earliest(next_ping);
        earliest(pong_deadline);
        if (!at) return;
        if (watchdog_at && *watchdog_at <= *at) return;  // the armed wait comes first; it re-checks
        watchdog_at = at;
        watchdog.expires_at(impl->epoch + std::chrono::duration_cast<Clock::duration>(*at));
        watchdog.async_wait([self = shared_from_this()](const error_code& ec) {
            if (ec == asio::error::operation_aborted || self->state == Conn::State::closed) return;
            self->watchdog_at.reset();
            self->check();
        });
    }
    void check() {
        const Time t = impl->now();
        const auto& o = impl->opt;
        if (connect_deadline && t >= *connect_deadline) {
            connect_failed("no connection within connect_timeout");
            return;
        }
        if (incomplete_since && t >= *incomplete_since + std::chrono::duration_cast<Time>(o.incomplete_message_timeout)) {
            ++impl->counters.incomplete_timeouts;
            impl->log(transport_name_s() + " " + format_hostport(remote) +
                      ": message incomplete for longer than incomplete_message_timeout, closing");
            close(true);
            return;
        }
        if (o.tcp_idle_timeout.count() > 0 && !keeps_own_flow() && !incomplete_since &&
            t >= last_activity + std::chrono::duration_cast<Time>(o.tcp_idle_timeout)) {
            if (state == State::open && o.flow_in_use && o.flow_in_use(id)) {
                last_activity = t;  // a dialog or registration uses the flow: another period
                schedule();
                return;
            }
            ++impl->counters.idle_timeouts;
            impl->log(transport_name_s() + " " + format_hostport(remote) + ": idle, closing");
            close(false);
            return;
        }
        if (pong_deadline && t >= *pong_deadline) {
            ++impl->counters.keepalive_failures;
            impl->log(transport_name_s() + " " + format_hostport(remote) + ": no pong to a keep-alive ping, closing");
            close(true);
            return;
        }
        if (next_ping && t >= *next_ping && state == State::open) {
            // RFC 5626 §3.5.1: the client's keep-alive is a double CRLF.
            ++impl->counters.pings_sent;
            send(SharedBuffer::copy_of("\r\n\r\n"), TransactionId{}, true);
            next_ping = t + std::chrono::duration_cast<Time>(o.keepalive_interval);
            if (!pong_deadline && o.keepalive_pong_timeout.count() > 0)
                pong_deadline = t + std::chrono::duration_cast<Time>(o.keepalive_pong_timeout);
        }
        schedule();
    }

    // An outgoing connection we keep alive ourselves (RFC 5626 §4.4.1): the application's flow,
    // exempt from the idle timeout.
    [[nodiscard]] bool keeps_own_flow() const {
        return outgoing && crlf_keepalive() && impl->opt.keepalive_interval.count() > 0;
    }

    void deliver(SharedBuffer bytes) {
        touch();  // a SIP message received: activity (keep-alives are not delivered)
        ++impl->counters.stream_messages_received;
        const Source from{transport, remote, id};
        if (impl->opt.trace) impl->opt.trace(TraceDirection::received, transport, remote, bytes.view());
        impl->step([&](Time t) { impl->core.receive(std::move(bytes), from, t); });
    }
};


}  // namespace referkit::runtime
