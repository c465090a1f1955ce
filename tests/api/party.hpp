// Test support for tests/api: user agents on loopback (ports 0) in one io_context, driven until a
// condition holds or a bound passes (never a sleep).
#pragma once
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "referkit/transfer.hpp"
#include "referkit/user_agent.hpp"

namespace referkit::apitest {

using namespace std::chrono_literals;

// Runs `io` until pred() holds; false when `bound` passed first.
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& pred,
                      std::chrono::milliseconds bound = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        io.run_for(std::chrono::milliseconds(5));
        if (io.stopped()) io.restart();
    }
    return true;
}

// What a party does with an incoming call (that the Stack did not take).
enum class Answer { ok, busy, ring_only, none };

// One user agent listening on 127.0.0.1:0 over `transport`, recording what reaches the application.
class Party {
public:
    Party(boost::asio::io_context& io, std::string name, Transport transport, Answer answer = Answer::ok,
          UserAgentOptions extra = {})
        : name_(std::move(name)), transport_(transport), answer_(answer), ua_(io, options(std::move(extra)), handler()) {}

    [[nodiscard]] std::expected<void, std::string> start() { return ua_.start(); }
    [[nodiscard]] std::string uri() const { return ua_.contact_uri(transport_).value_or(""); }
    UserAgent& ua() { return ua_; }
    [[nodiscard]] const std::vector<StackEvent>& events() const { return events_; }
    [[nodiscard]] const std::vector<TransfereeEvent>& transferee() const { return transferee_; }
    [[nodiscard]] const std::vector<std::string>& log() const { return log_; }
    [[nodiscard]] std::size_t count(SessionEventKind kind) const {
        std::size_t n = 0;
        for (const auto& e : events_)
            if (const auto* s = std::get_if<SessionEvent>(&e)) n += s->kind == kind ? 1 : 0;
        return n;
    }
    template <class E>
    [[nodiscard]] std::size_t count() const {
        std::size_t n = 0;
        for (const auto& e : events_) n += std::holds_alternative<E>(e) ? 1 : 0;
        return n;
    }
    [[nodiscard]] std::size_t count(TransfereeEventKind kind) const {
        std::size_t n = 0;
        for (const auto& e : transferee_) n += e.kind == kind ? 1 : 0;
        return n;
    }
    // The last incoming call the application saw.
    [[nodiscard]] SessionId last_incoming() const { return last_incoming_; }

private:
    UserAgentOptions options(UserAgentOptions o) {
        o.core.aor = "sip:" + name_ + "@127.0.0.1";
        o.core.contact_user = name_;
        o.engine.listen = {runtime::ListenSpec{.transport = transport_, .local = Endpoint{"127.0.0.1", 0}, .ws_path = "/"}};
        o.log = [this](std::string_view line) { log_.emplace_back(line); };
        auto user_transferee = std::move(o.on_transferee);
        o.on_transferee = [this, user_transferee](UserAgent& ua, const TransfereeEvent& e) {
            transferee_.push_back(e);
            if (user_transferee) user_transferee(ua, e);
        };
        return o;
    }
    UserAgent::EventHandler handler() {
        return [this](UserAgent& ua, const StackEvent& ev) {
            events_.push_back(ev);
            const auto* e = std::get_if<SessionEvent>(&ev);
            if (e == nullptr || e->kind != SessionEventKind::incoming_call) return;
            last_incoming_ = e->session;
            Session s = ua.session(e->session);
            switch (answer_) {
                case Answer::ok: (void)s.answer(); break;
                case Answer::busy: (void)s.reject(486, "Busy Here"); break;
                case Answer::ring_only: (void)s.answer(AnswerOptions{.status = 180}); break;
                case Answer::none: break;
            }
        };
    }

    std::string name_;
    Transport transport_;
    Answer answer_;
    std::vector<StackEvent> events_;
    std::vector<TransfereeEvent> transferee_;
    std::vector<std::string> log_;
    SessionId last_incoming_{};
    UserAgent ua_;
};

}  // namespace referkit::apitest
