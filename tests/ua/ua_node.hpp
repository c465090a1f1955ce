// A UserAgentCore attached to a sim::Network (like tests/support/core_node.hpp for a bare
// TransactionLayer): received datagrams go into the core, its transmits onto the network, its
// events into a log and to an optional handler, which may give the core commands.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "referkit/core/user_agent_core.hpp"
#include "sim_network.hpp"

namespace referkit::test {

class UaNode : public sim::Node {
public:
    using Handler = std::function<void(UaNode&, const UaEvent&, Time)>;

    UaNode(sim::Network& net, Endpoint address, UserAgentConfig config)
        : net_(net), address_(std::move(address)), core_(std::move(config)) {
        net_.attach(address_, *this);
        core_.on_local_address(Transport::udp, address_, address_.host + ":" + std::to_string(address_.port));
    }
    void deliver(const sim::Datagram& d, Time now) override {
        core_.receive(SharedBuffer::copy_of(d.bytes), Source{d.transport, d.from, d.connection}, now);
        pump(now);
    }
    [[nodiscard]] std::optional<Time> next_deadline() const override {
        auto d = core_.next_deadline();
        for (const auto& a : actions_)
            if (!d || a.first < *d) d = a.first;
        return d;
    }
    void on_timer(Time now) override {
        core_.on_timer(now);
        pump(now);
        for (std::size_t i = 0; i < actions_.size();) {
            if (actions_[i].first <= now) {
                auto f = std::move(actions_[i].second);
                actions_.erase(actions_.begin() + static_cast<std::ptrdiff_t>(i));
                f(*this, now);
                pump(now);
            } else {
                ++i;
            }
        }
    }
    // Runs f at virtual time `at` (a scripted application acting later), then pumps.
    void later(Time at, std::function<void(UaNode&, Time)> f) { actions_.emplace_back(at, std::move(f)); }
    // Moves every transmit onto the network and every event into the log (and the handler).
    void pump(Time now) {
        for (int guard = 0; guard < 100000; ++guard) {
            if (auto t = core_.poll_transmit()) {
                sent_.emplace_back(t->bytes.view());
                net_.send(t->destination.transport, address_, t->destination.remote, t->bytes.view(),
                          t->destination.connection);
                continue;
            }
            if (auto e = core_.poll_event()) {
                events_.push_back(*e);
                if (on_event) on_event(*this, events_.back(), now);
                continue;
            }
            break;
        }
    }

    UserAgentCore& core() noexcept { return core_; }
    [[nodiscard]] const Endpoint& address() const noexcept { return address_; }
    [[nodiscard]] std::string uri(std::string_view user) const {
        return "sip:" + std::string(user) + "@" + address_.host + ":" + std::to_string(address_.port);
    }
    [[nodiscard]] const std::vector<UaEvent>& events() const noexcept { return events_; }
    [[nodiscard]] std::size_t count(UaEventKind k) const {
        return static_cast<std::size_t>(
            std::count_if(events_.begin(), events_.end(), [&](const UaEvent& e) { return e.kind == k; }));
    }
    [[nodiscard]] const UaEvent* find(UaEventKind k, std::size_t nth = 0) const {
        for (const UaEvent& e : events_)
            if (e.kind == k && nth-- == 0) return &e;
        return nullptr;
    }
    [[nodiscard]] std::string timeline() const {
        std::string s;
        for (const UaEvent& e : events_) {
            s += std::string(to_string(e.kind));
            if (e.status != 0) s += "(" + std::to_string(e.status) + ")";
            if (e.kind == UaEventKind::session_ended) s += "[" + std::string(to_string(e.cause)) + "]";
            s += " ";
        }
        return s;
    }
    // Every message this node sent, as bytes.
    [[nodiscard]] const std::vector<std::string>& sent() const noexcept { return sent_; }
    void clear() {
        events_.clear();
        sent_.clear();
    }

    Handler on_event;

private:
    sim::Network& net_;
    Endpoint address_;
    UserAgentCore core_;
    std::vector<UaEvent> events_;
    std::vector<std::string> sent_;
    std::vector<std::pair<Time, std::function<void(UaNode&, Time)>>> actions_;
};

inline UserAgentConfig ua_config(std::string aor, std::uint64_t seed) {
    UserAgentConfig c;
    c.aor = std::move(aor);
    c.transaction.random = [n = seed]() mutable {
        // splitmix64: distinct, well spread values from a seed
        std::uint64_t z = (n += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    };
    return c;
}

inline bool empty(const UaCounts& c) {
    return c.sessions == 0 && c.dialogs == 0 && c.requests == 0 && c.incoming == 0 && c.transactions == 0 &&
           c.timers == 0 && c.transaction_owners == 0;
}

inline std::string describe(const UaCounts& c) {
    return "sessions=" + std::to_string(c.sessions) + " dialogs=" + std::to_string(c.dialogs) +
           " requests=" + std::to_string(c.requests) + " incoming=" + std::to_string(c.incoming) +
           " transactions=" + std::to_string(c.transactions) + " timers=" + std::to_string(c.timers) + " owners=" + std::to_string(c.transaction_owners);
}

}  // namespace referkit::test
