// Test support for tests/api: user agents on loopback (ports 0) in one io_context, driven until a
// condition holds or a bound passes (never a sleep: run_until of tests/support/io_wait.hpp).
#pragma once
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io_wait.hpp"
#include "referkit/transfer.hpp"
#include "referkit/user_agent.hpp"

namespace referkit::apitest {

using namespace std::chrono_literals;
using test::run_until;

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

// `caller` calls `callee` (default offer) and waits until the call is confirmed on the caller's side.
inline Session call(boost::asio::io_context& io, Party& caller, Party& callee) {
    auto s = caller.ua().invite(InviteOptions{.target = callee.uri(), .headers = {}, .body = std::nullopt,
                                              .content_type = "application/sdp"});
    EXPECT_TRUE(s.has_value());
    if (!s) return {};
    EXPECT_TRUE(run_until(io, [&] { return s->state() == SessionState::confirmed; }));
    return *s;
}

}  // namespace referkit::apitest
