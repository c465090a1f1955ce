// A TransactionLayer attached to a sim::Network: received datagrams go into the layer, its
// transmits onto the network, its events to a test-supplied transaction user (which may call the
// layer back; the node pumps until both queues are empty).
#pragma once
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "referkit/core/transaction_layer.hpp"
#include "sim_network.hpp"

namespace referkit::sim {

class CoreNode : public Node {
public:
    // on_event is called for each event with the node (to call layer()) and the current time.
    using EventHandler = std::function<void(CoreNode&, TransactionEvent&, Time)>;

    CoreNode(Network& net, Endpoint address, TransactionOptions options, EventHandler on_event = {})
        : net_(net), address_(std::move(address)), layer_(std::move(options)), on_event_(std::move(on_event)) {
        net_.attach(address_, *this);
    }

    void deliver(const Datagram& d, Time now) override {
        layer_.receive(std::string_view(d.bytes), Source{d.transport, d.from, d.connection}, now);
        pump(now);
    }
    [[nodiscard]] std::optional<Time> next_deadline() const override { return layer_.next_deadline(); }
    void on_timer(Time now) override {
        layer_.on_timer(now);
        pump(now);
    }

    // Moves every pending transmit onto the network and every event to the handler.
    void pump(Time now) {
        for (;;) {
            if (auto t = layer_.poll_transmit()) {
                ++transmits_;
                destinations_.push_back(t->destination);
                net_.send(t->destination.transport, address_, t->destination.remote, t->bytes.view(),
                          t->destination.connection);
                continue;
            }
            if (auto e = layer_.poll_event()) {
                if (on_event_) on_event_(*this, *e, now);
                continue;
            }
            break;
        }
    }

    TransactionLayer& layer() noexcept { return layer_; }
    [[nodiscard]] const Endpoint& address() const noexcept { return address_; }
    [[nodiscard]] std::uint64_t transmits() const noexcept { return transmits_; }
    // The destination of every transmit, in order.
    [[nodiscard]] const std::vector<Destination>& destinations() const noexcept { return destinations_; }

private:
    Network& net_;
    Endpoint address_;
    TransactionLayer layer_;
    EventHandler on_event_;
    std::uint64_t transmits_ = 0;
    std::vector<Destination> destinations_;
};

}  // namespace referkit::sim
