// An in-memory network on a virtual clock, for tests: N addressable nodes, per-link latency,
// jitter, loss, duplication and reordering, all drawn from one explicit seed, so that a run is a
// pure function of its seed. Reliable transports (TCP, TLS, WS, WSS) are modelled as lossless,
// duplicate-free, in-order links with a connection id per pair of endpoints.
//
// The network drives its nodes in time order: step() advances the virtual clock to the earliest
// packet delivery or node deadline and performs it. Reused by every later test suite.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "referkit/core/time.hpp"
#include "referkit/core/transport.hpp"

namespace referkit::sim {

// The virtual clock: time only moves when a test or the network moves it.
class VirtualClock {
public:
    [[nodiscard]] Time now() const noexcept { return now_; }
    // Moves the clock forward to t (never backwards).
    void advance_to(Time t) noexcept {
        if (t > now_) now_ = t;
    }
    void advance_by(Duration d) noexcept { now_ += d; }

private:
    Time now_{};
};

struct LinkConfig {
    Duration latency = std::chrono::milliseconds(10);
    Duration jitter = Duration::zero();  // uniform extra delay in [0, jitter]
    double loss = 0.0;                   // probability a datagram is dropped
    double duplicate = 0.0;              // probability a datagram is delivered twice
    double reorder = 0.0;                // probability a datagram is held back by reorder_delay
    Duration reorder_delay = std::chrono::milliseconds(100);
};

struct Datagram {
    Transport transport = Transport::udp;
    Endpoint from;
    Endpoint to;
    ConnectionId connection = 0;  // reliable transports: the pair's connection
    std::string bytes;
};

// Something attached to the network at an address.
class Node {
public:
    virtual ~Node() = default;
    virtual void deliver(const Datagram& datagram, Time now) = 0;
    [[nodiscard]] virtual std::optional<Time> next_deadline() const = 0;
    virtual void on_timer(Time now) = 0;
};

struct NetworkStats {
    std::uint64_t sent = 0, lost = 0, duplicated = 0, reordered = 0, delivered = 0, unroutable = 0;
};

class Network {
public:
    explicit Network(std::uint64_t seed) : rng_(seed) {}

    // Attaches node at address (the node must outlive the network or be detached).
    void attach(const Endpoint& address, Node& node) { nodes_.push_back(Attached{address, &node}); }
    void set_default_link(const LinkConfig& c) { default_link_ = c; }
    // Called with every datagram just before it is delivered (for observations in tests).
    void on_deliver(std::function<void(const Datagram&, Time)> f) { on_deliver_ = std::move(f); }
    void set_link(const Endpoint& from, const Endpoint& to, const LinkConfig& c) { links_[key(from, to)] = c; }

    // Puts bytes on the wire now; delivery, loss and duplication follow the link's configuration.
    // Reliable transports: a non-zero `connection` that `from` is an end of carries the bytes to
    // its other end, whatever `to` says (RFC 3261 §18.2.2: the response goes back on the request's
    // connection); otherwise the pair (from, to)'s connection.
    void send(Transport t, const Endpoint& from, const Endpoint& to, std::string_view bytes,
              ConnectionId connection = 0);

    [[nodiscard]] Time now() const noexcept { return clock_.now(); }
    VirtualClock& clock() noexcept { return clock_; }
    [[nodiscard]] const NetworkStats& stats() const noexcept { return stats_; }
    [[nodiscard]] std::size_t in_flight() const noexcept { return queue_.size(); }

    // The earliest pending packet delivery or node deadline.
    [[nodiscard]] std::optional<Time> next_event() const;
    // Performs the earliest event if it is due at or before limit; false when there is none.
    bool step(Time limit);
    // Runs every event up to t, then sets the clock to t.
    void run_until(Time t);
    // Runs until nothing is in flight and no node has a deadline, or until limit; true when idle.
    bool run_until_idle(Time limit);

    // The connection id the network gives a reliable pair (same both ways).
    ConnectionId connection_of(Transport t, const Endpoint& a, const Endpoint& b);

private:
    struct Attached {
        Endpoint address;
        Node* node;
    };
    using LinkKey = std::tuple<std::string, std::uint16_t, std::string, std::uint16_t>;
    static LinkKey key(const Endpoint& a, const Endpoint& b) { return {a.host, a.port, b.host, b.port}; }
    const LinkConfig& link(const Endpoint& from, const Endpoint& to) const;
    Node* find(const Endpoint& e) const;
    Duration delay(const LinkConfig& c);
    bool chance(double p);

    struct InFlight {
        Time at;
        std::uint64_t seq;
        Datagram datagram;
    };
    struct Later {
        bool operator()(const InFlight& a, const InFlight& b) const {
            return a.at != b.at ? a.at > b.at : a.seq > b.seq;
        }
    };

    VirtualClock clock_;
    std::mt19937_64 rng_;
    std::vector<Attached> nodes_;
    LinkConfig default_link_;
    std::map<LinkKey, LinkConfig> links_;
    std::vector<InFlight> queue_;  // a heap ordered by Later
    std::uint64_t seq_ = 0;
    std::map<std::tuple<int, LinkKey>, ConnectionId> connections_;
    std::map<ConnectionId, std::pair<Endpoint, Endpoint>> connection_ends_;
    std::map<LinkKey, Time> last_reliable_;  // in-order delivery per direction
    NetworkStats stats_;
    std::function<void(const Datagram&, Time)> on_deliver_;
};

}  // namespace referkit::sim
