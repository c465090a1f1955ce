// A small Driven core for transport tests: a TransactionLayer that answers every request 200 (or
// not, when answer_requests is false), records what it received and the final status of the
// requests the test sends through it.
#pragma once
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/driven.hpp"
#include "referkit/core/transaction_layer.hpp"

namespace referkit {
// GoogleTest prints a Transport parameter by name (found by ADL).
inline void PrintTo(Transport t, std::ostream* os) { *os << transport_name(t); }
}  // namespace referkit

namespace referkit::test {

struct ReceivedRequest {
    std::string method;
    Source source;
    std::string via;  // the top Via as received
};

class TestCore : public Driven {
public:
    explicit TestCore(Limits limits = {}) : layer_(options(limits)) {}

    void receive(SharedBuffer bytes, const Source& from, Time now) override { layer_.receive(std::move(bytes), from, now); }
    [[nodiscard]] std::optional<Transmit> poll_transmit() override { return layer_.poll_transmit(); }
    void transport_error(TransactionId id, Time now) override {
        ++transport_errors;
        layer_.transport_error(id, now);
    }
    [[nodiscard]] std::optional<Time> next_deadline() const override { return layer_.next_deadline(); }
    void on_timer(Time now) override { layer_.on_timer(now); }
    void on_local_address(Transport t, const Endpoint&, std::string_view sent_by) override {
        layer_.set_sent_by(t, std::string(sent_by));
        sent_by_of[t] = std::string(sent_by);
    }
    void after_step(Time now) override {
        while (auto e = layer_.poll_event()) {
            switch (e->kind) {
            case EventKind::request:
                requests.push_back(ReceivedRequest{std::string(e->message->method_text()), e->source,
                                                   std::string(e->message->find(HeaderId::via)->value)});
                if (answer_requests) {
                    ResponseSpec r;
                    r.status = 200;
                    (void)layer_.respond(e->id, r, now);
                }
                break;
            case EventKind::response:
                if (!e->repeated && e->message->status() >= 200) finals[e->id.value] = e->message->status();
                break;
            case EventKind::timeout:
            case EventKind::transport_error:
                finals[e->id.value] = e->message ? e->message->status() : -1;
                break;
            case EventKind::ack:
            case EventKind::cancel:
            case EventKind::terminated: break;
            }
        }
    }

    // Sends `method` to `to` (call on the engine's thread, e.g. from Engine::post). call_id ""
    // = a fresh one. Returns the transaction id (0 on a local error).
    std::uint64_t send(std::string_view method, const Destination& to, Time now, std::string call_id = {},
                       std::uint32_t cseq = 1, std::string_view uri = "sip:bob@example.com",
                       std::string_view body = {}) {
        const std::string m(method);
        const std::string n = std::to_string(++sent_);
        if (call_id.empty()) call_id = "c" + n + "-" + std::to_string(reinterpret_cast<std::uintptr_t>(this)) + "@test";
        std::string request = m + " " + std::string(uri) + " SIP/2.0\r\nMax-Forwards: 70\r\n"
                              "From: <sip:alice@example.com>;tag=t" + n + "\r\nTo: <" + std::string(uri) +
                              ">\r\nCall-ID: " + call_id + "\r\nCSeq: " + std::to_string(cseq) + " " + m + "\r\n";
        if (!body.empty()) request += "Content-Type: text/plain\r\n";
        request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
        auto id = layer_.send_request(request, to, now);
        return id ? id->value : 0;
    }
    [[nodiscard]] const TransactionCounters& layer_counters() const { return layer_.counters(); }

    bool answer_requests = true;
    std::vector<ReceivedRequest> requests;
    std::map<std::uint64_t, int> finals;  // transaction id -> final status (503 synthesised, 408 timeout)
    std::map<Transport, std::string> sent_by_of;
    int transport_errors = 0;

private:
    TransactionOptions options(const Limits& limits) {
        TransactionOptions o;
        o.limits = limits;
        o.random = [this] { return ++random_ * 0x9e3779b97f4a7c15ULL + reinterpret_cast<std::uintptr_t>(this); };
        return o;
    }
    std::uint64_t random_ = 0;
    int sent_ = 0;
    TransactionLayer layer_;
};

}  // namespace referkit::test
