#include "sim_network.hpp"

#include <algorithm>

namespace referkit::sim {

const LinkConfig& Network::link(const Endpoint& from, const Endpoint& to) const {
    auto it = links_.find(key(from, to));
    return it == links_.end() ? default_link_ : it->second;
}

Node* Network::find(const Endpoint& e) const {
    for (const Attached& a : nodes_)
        if (a.address == e) return a.node;
    return nullptr;
}

bool Network::chance(double p) {
    if (p <= 0.0) return false;
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < p;
}

Duration Network::delay(const LinkConfig& c) {
    Duration d = c.latency;
    if (c.jitter > Duration::zero())
        d += Duration(std::uniform_int_distribution<std::int64_t>(0, c.jitter.count())(rng_));
    return d;
}

ConnectionId Network::connection_of(Transport t, const Endpoint& a, const Endpoint& b) {
    LinkKey k = std::tie(a.host, a.port) < std::tie(b.host, b.port) ? key(a, b) : key(b, a);
    auto [it, inserted] = connections_.try_emplace({static_cast<int>(t), k}, connections_.size() + 1);
    if (inserted) connection_ends_.emplace(it->second, std::make_pair(a, b));
    return it->second;
}

void Network::send(Transport t, const Endpoint& from, const Endpoint& given_to, std::string_view bytes,
                   ConnectionId connection) {
    ++stats_.sent;
    Endpoint to = given_to;
    if (is_reliable(t) && connection != 0) {
        if (auto it = connection_ends_.find(connection); it != connection_ends_.end()) {
            if (it->second.first == from) to = it->second.second;
            else if (it->second.second == from) to = it->second.first;
        }
    }
    const LinkConfig& c = link(from, to);
    Datagram d{t, from, to, 0, std::string(bytes)};
    auto push = [&](Time at, Datagram dg) {
        queue_.push_back(InFlight{at, seq_++, std::move(dg)});
        std::push_heap(queue_.begin(), queue_.end(), Later{});
    };
    if (is_reliable(t)) {
        d.connection = connection_of(t, from, to);
        Time at = now() + c.latency;
        Time& last = last_reliable_[key(from, to)];
        at = std::max(at, last);
        last = at;
        push(at, std::move(d));
        return;
    }
    if (chance(c.loss)) {
        ++stats_.lost;
        return;
    }
    Duration extra = Duration::zero();
    if (chance(c.reorder)) {
        ++stats_.reordered;
        extra = c.reorder_delay;
    }
    if (chance(c.duplicate)) {
        ++stats_.duplicated;
        push(now() + delay(c), d);
    }
    push(now() + delay(c) + extra, std::move(d));
}

std::optional<Time> Network::next_event() const {
    std::optional<Time> best;
    if (!queue_.empty()) best = queue_.front().at;
    for (const Attached& a : nodes_)
        if (auto d = a.node->next_deadline(); d && (!best || *d < *best)) best = *d;
    return best;
}

bool Network::step(Time limit) {
    std::optional<Time> timer;
    Node* timer_node = nullptr;
    for (const Attached& a : nodes_)
        if (auto d = a.node->next_deadline(); d && (!timer || *d < *timer)) {
            timer = d;
            timer_node = a.node;
        }
    const bool packet_first = !queue_.empty() && (!timer || queue_.front().at <= *timer);
    if (packet_first) {
        if (queue_.front().at > limit) return false;
        std::pop_heap(queue_.begin(), queue_.end(), Later{});
        InFlight f = std::move(queue_.back());
        queue_.pop_back();
        clock_.advance_to(f.at);
        if (Node* n = find(f.datagram.to)) {
            ++stats_.delivered;
            if (on_deliver_) on_deliver_(f.datagram, now());
            n->deliver(f.datagram, now());
        } else {
            ++stats_.unroutable;
        }
        return true;
    }
    if (!timer || *timer > limit) return false;
    clock_.advance_to(*timer);
    timer_node->on_timer(now());
    return true;
}

void Network::run_until(Time t) {
    while (step(t)) {
    }
    clock_.advance_to(t);
}

bool Network::run_until_idle(Time limit) {
    while (step(limit)) {
    }
    return !next_event().has_value();
}

}  // namespace referkit::sim
