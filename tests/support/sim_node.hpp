// A core attached to a sim::Network: the one test harness that drives any sans-I/O core the way
// the runtime does (src/runtime/user_agent.cpp): an input, then every transmit onto the network,
// then the core's events to the test, until both are empty. Scripted actions run at a virtual time.
//   DrivenNode<Core>  the wiring of a core it owns (a TransactionLayer or a Stack) to the network
//   CoreNode          a bare TransactionLayer and a test-supplied transaction user
//   StackNode         a Stack: its events are logged and handed to an optional handler
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "referkit/core/stack.hpp"
#include "referkit/core/transaction_layer.hpp"
#include "sim_network.hpp"

namespace referkit::sim {

class SimNode : public Node {
public:
    SimNode(Network& net, Endpoint address) : net_(net), address_(std::move(address)) { net_.attach(address_, *this); }
    SimNode(const SimNode&) = delete;
    SimNode& operator=(const SimNode&) = delete;

    void deliver(const Datagram& d, Time now) override {
        receive(SharedBuffer::copy_of(d.bytes), Source{d.transport, d.from, d.connection}, now);
        pump(now);
    }
    [[nodiscard]] std::optional<Time> next_deadline() const override {
        auto d = core_deadline();
        for (const auto& a : later_)
            if (!d || a.first < *d) d = a.first;
        return d;
    }
    void on_timer(Time now) override {
        timer(now);
        pump(now);
        // Scripted actions due now, in the order they were scheduled (one may schedule more).
        for (std::size_t i = 0; i < later_.size();) {
            if (later_[i].first > now) {
                ++i;
                continue;
            }
            auto f = std::move(later_[i].second);
            later_.erase(later_.begin() + static_cast<std::ptrdiff_t>(i));
            f(now);
            pump(now);
        }
    }
    // Runs f at virtual time `at` (an application acting later), then pumps.
    void later(Time at, std::function<void(Time)> f) { later_.emplace_back(at, std::move(f)); }

    // Moves every pending transmit onto the network and every event to the test, one event at a
    // time with the transmits it caused sent before the next.
    void pump(Time now) {
        for (int guard = 0; guard < 1000000; ++guard) {
            if (auto t = transmit()) {
                if (record_) {
                    sent_.emplace_back(t->bytes.view());
                    destinations_.push_back(t->destination);
                }
                net_.send(t->destination.transport, address_, t->destination.remote, t->bytes.view(),
                          t->destination.connection);
                continue;
            }
            if (!take_event(now)) return;
        }
    }

    [[nodiscard]] const Endpoint& address() const noexcept { return address_; }
    [[nodiscard]] std::string uri(std::string_view user) const {
        return "sip:" + std::string(user) + "@" + address_.host + ":" + std::to_string(address_.port);
    }
    // Whether sent() and destinations() record what is sent (on by default; a benchmark that sends
    // millions of messages turns it off).
    void record_sent(bool on) noexcept { record_ = on; }
    // Every message this node sent, as bytes, and where each went.
    [[nodiscard]] const std::vector<std::string>& sent() const noexcept { return sent_; }
    [[nodiscard]] std::uint64_t transmits() const noexcept { return destinations_.size(); }
    [[nodiscard]] const std::vector<Destination>& destinations() const noexcept { return destinations_; }
    [[nodiscard]] bool idle() const noexcept { return later_.empty(); }
    Network& network() noexcept { return net_; }

protected:
    void clear_sent() { std::exchange(sent_, {}); }  // the memory too (the soak test measures the heap)
    virtual void receive(SharedBuffer bytes, const Source& from, Time now) = 0;
    virtual std::optional<Transmit> transmit() = 0;
    [[nodiscard]] virtual std::optional<Time> core_deadline() const = 0;
    virtual void timer(Time now) = 0;
    // Hands the core's next event to the test; false when none is queued.
    virtual bool take_event(Time now) = 0;

private:
    Network& net_;
    Endpoint address_;
    std::vector<std::pair<Time, std::function<void(Time)>>> later_;
    std::vector<std::string> sent_;
    std::vector<Destination> destinations_;
    bool record_ = true;
};

// A SimNode driving a core it owns (`Core`: TransactionLayer or Stack): each event the core queues
// goes to on_core_event. A Stack is told it listens on UDP at the node's address.
template <class Core>
class DrivenNode : public SimNode {
public:
    using Event = typename decltype(std::declval<Core&>().poll_event())::value_type;

    template <class Config>
    DrivenNode(Network& net, Endpoint address, Config config) : SimNode(net, std::move(address)), core_(std::move(config)) {
        if constexpr (std::is_same_v<Core, Stack>)
            core_.on_local_address(Transport::udp, this->address(),
                                   this->address().host + ":" + std::to_string(this->address().port));
    }

protected:
    Core& core() noexcept { return core_; }
    [[nodiscard]] const Core& core() const noexcept { return core_; }
    virtual void on_core_event(Event& e, Time now) = 0;

private:
    void receive(SharedBuffer bytes, const Source& from, Time now) override { core_.receive(std::move(bytes), from, now); }
    std::optional<Transmit> transmit() override { return core_.poll_transmit(); }
    std::optional<Time> core_deadline() const override { return core_.next_deadline(); }
    void timer(Time now) override { core_.on_timer(now); }
    bool take_event(Time now) override {
        auto e = core_.poll_event();
        if (!e) return false;
        on_core_event(*e, now);
        return true;
    }

    Core core_;
};

// A bare TransactionLayer: its events go to a test-supplied transaction user, which may call the
// layer back.
class CoreNode : public DrivenNode<TransactionLayer> {
public:
    using EventHandler = std::function<void(CoreNode&, TransactionEvent&, Time)>;
    CoreNode(Network& net, Endpoint address, TransactionOptions options, EventHandler on_event = {})
        : DrivenNode(net, std::move(address), std::move(options)), on_event_(std::move(on_event)) {}

    TransactionLayer& layer() noexcept { return core(); }
    void later(Time at, std::function<void(CoreNode&, Time)> f) {
        SimNode::later(at, [this, f = std::move(f)](Time now) { f(*this, now); });
    }

private:
    void on_core_event(TransactionEvent& e, Time now) override {
        if (on_event_) on_event_(*this, e, now);
    }

    EventHandler on_event_;
};

}  // namespace referkit::sim

namespace referkit::test {

// A Stack: every event is logged (events(), typed look-ups) and then handed to `on_event`, which
// may give the stack commands.
class StackNode : public sim::DrivenNode<Stack> {
public:
    using Handler = std::function<void(StackNode&, const StackEvent&, Time)>;

    StackNode(sim::Network& net, Endpoint address, StackConfig config) : DrivenNode(net, std::move(address), std::move(config)) {}
    // A user agent that leaves call transfer to the application (ReferConfig::handle_refer and
    // handle_replaces off): REFERs, refer NOTIFYs and INVITEs with Replaces reach its handler.
    StackNode(sim::Network& net, Endpoint address, UserAgentConfig config)
        : StackNode(net, std::move(address), app_handled(std::move(config))) {}

    Stack& stack() noexcept { return core(); }
    [[nodiscard]] const Stack& stack() const noexcept { return core(); }
    void later(Time at, std::function<void(StackNode&, Time)> f) {
        SimNode::later(at, [this, f = std::move(f)](Time now) { f(*this, now); });
    }

    [[nodiscard]] const std::vector<StackEvent>& events() const noexcept { return events_; }
    template <class E>
    [[nodiscard]] std::size_t count() const {
        return static_cast<std::size_t>(
            std::count_if(events_.begin(), events_.end(), [](const StackEvent& e) { return std::holds_alternative<E>(e); }));
    }
    // The nth event of type E, or nullptr.
    template <class E>
    [[nodiscard]] const E* find(std::size_t nth = 0) const {
        for (const StackEvent& e : events_)
            if (const E* x = std::get_if<E>(&e); x != nullptr && nth-- == 0) return x;
        return nullptr;
    }
    // Every event of type E, in order.
    template <class E>
    [[nodiscard]] std::vector<E> all() const {
        std::vector<E> out;
        for (const StackEvent& e : events_)
            if (const E* x = std::get_if<E>(&e)) out.push_back(*x);
        return out;
    }
    [[nodiscard]] std::size_t count(SessionEventKind k) const { return count_kind<SessionEvent>(k); }
    [[nodiscard]] std::size_t count(ReferEventKind k) const { return count_kind<TransferEvent>(k); }
    [[nodiscard]] std::size_t count(TransfereeEventKind k) const { return count_kind<TransfereeEvent>(k); }
    [[nodiscard]] const SessionEvent* find(SessionEventKind k, std::size_t nth = 0) const { return find_kind<SessionEvent>(k, nth); }
    [[nodiscard]] const TransferEvent* find(ReferEventKind k, std::size_t nth = 0) const { return find_kind<TransferEvent>(k, nth); }
    [[nodiscard]] const TransfereeEvent* find(TransfereeEventKind k, std::size_t nth = 0) const {
        return find_kind<TransfereeEvent>(k, nth);
    }
    // One word per event ("incoming_call session_ended(200)[bye_local] response(481) ..."), for messages.
    [[nodiscard]] std::string timeline() const;
    void clear() {  // forgets the log and gives its memory back
        std::exchange(events_, {});
        clear_sent();
    }

    Handler on_event;

    static StackConfig app_handled(UserAgentConfig c) {
        return StackConfig{.ua = std::move(c), .refer = ReferConfig{.handle_refer = false, .handle_replaces = false}};
    }

private:
    template <class E, class K>
    std::size_t count_kind(K k) const {
        std::size_t n = 0;
        for (const StackEvent& e : events_)
            if (const E* x = std::get_if<E>(&e); x != nullptr && x->kind == k) ++n;
        return n;
    }
    template <class E, class K>
    const E* find_kind(K k, std::size_t nth) const {
        for (const StackEvent& e : events_)
            if (const E* x = std::get_if<E>(&e); x != nullptr && x->kind == k && nth-- == 0) return x;
        return nullptr;
    }
    void on_core_event(StackEvent& e, Time now) override {
        events_.push_back(e);
        if (on_event) on_event(*this, e, now);  // its own copy: the handler may grow the log
    }

    std::vector<StackEvent> events_;
};

// A deterministic random source for a node: splitmix64 from `seed` (distinct, well spread values).
inline std::function<std::uint64_t()> seeded_random(std::uint64_t seed) {
    return [n = seed]() mutable {
        std::uint64_t z = (n += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    };
}

inline UserAgentConfig ua_config(std::string aor, std::uint64_t seed) {
    UserAgentConfig c;
    c.aor = std::move(aor);
    c.transaction.random = seeded_random(seed);
    return c;
}

inline bool empty(const StackCounts& c) {
    return c.sessions == 0 && c.dialogs == 0 && c.requests == 0 && c.incoming == 0 && c.transactions == 0 &&
           c.timers == 0 && c.transaction_owners == 0 && c.transfers == 0 && c.transferees == 0;
}

inline std::string describe(const StackCounts& c) {
    return "sessions=" + std::to_string(c.sessions) + " dialogs=" + std::to_string(c.dialogs) +
           " requests=" + std::to_string(c.requests) + " incoming=" + std::to_string(c.incoming) +
           " transactions=" + std::to_string(c.transactions) + " timers=" + std::to_string(c.timers) +
           " owners=" + std::to_string(c.transaction_owners) + " transfers=" + std::to_string(c.transfers) +
           " transferees=" + std::to_string(c.transferees);
}

inline std::string StackNode::timeline() const {
    std::string s;
    for (const StackEvent& ev : events_) {
        std::visit(
            [&s](const auto& e) {
                using E = std::decay_t<decltype(e)>;
                if constexpr (std::is_same_v<E, SessionEvent>) {
                    s += std::string(to_string(e.kind));
                    if (e.status != 0) s += "(" + std::to_string(e.status) + ")";
                    if (e.kind == SessionEventKind::session_ended) s += "[" + std::string(to_string(e.cause)) + "]";
                } else if constexpr (std::is_same_v<E, RequestEvent>) {
                    s += "request(" + std::string(e.message.method_text()) + ")";
                } else if constexpr (std::is_same_v<E, ResponseEvent>) {
                    s += "response(" + std::to_string(e.status) + ")";
                } else if constexpr (std::is_same_v<E, DialogEndedEvent>) {
                    s += "dialog_ended";
                } else if constexpr (std::is_same_v<E, TransferEvent>) {
                    s += std::string(e.name());
                    if (e.status != 0) s += "(" + std::to_string(e.status) + ")";
                } else if constexpr (std::is_same_v<E, TransferResponseEvent>) {
                    s += "transfer_response(" + std::to_string(e.response.status()) + ")";
                } else {
                    s += std::string(to_string(e.kind));
                    if (e.status != 0) s += "(" + std::to_string(e.status) + ")";
                }
            },
            ev);
        s += " ";
    }
    return s;
}

}  // namespace referkit::test
