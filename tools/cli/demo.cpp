// `referkit demo`: a real blind and a real attended transfer between three user agents on
// loopback, in one process, one io_context, every wait bounded.
#include "demo.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "timeline.hpp"

namespace referkit::cli {
namespace {

constexpr auto wait_bound = std::chrono::seconds(10);

// One party of the demo: its user agent and what it saw.
struct Actor {
    std::string name;
    bool auto_answer = false;
    std::vector<SessionEvent> events{};
    std::vector<TransfereeEvent> transferee{};
    std::unique_ptr<UserAgent> ua{};

    [[nodiscard]] std::string uri() const { return ua->contact_uri(Transport::udp).value_or(""); }
    [[nodiscard]] bool confirmed(SessionId id) const {
        return ua->session(id).state() == SessionState::confirmed;
    }
    [[nodiscard]] bool gone(SessionId id) const { return !ua->session(id).state().has_value(); }
    // The session of the last transferee event of `kind` at index >= from (0: none).
    [[nodiscard]] SessionId last_session(TransfereeEventKind kind, std::size_t from = 0) const {
        SessionId id{};
        for (std::size_t i = from; i < transferee.size(); ++i)
            if (transferee[i].kind == kind) id = transferee[i].session;
        return id;
    }
};

std::unique_ptr<Actor> make_actor(boost::asio::io_context& io, Timeline& t, std::ostream& err, bool trace,
                                  std::string name, bool auto_answer) {
    auto actor = std::make_unique<Actor>();
    actor->name = name;
    actor->auto_answer = auto_answer;
    Actor* a = actor.get();
    UserAgentOptions options;
    options.core.aor = "sip:" + name + "@127.0.0.1";
    options.core.contact_user = name;
    options.engine.listen = {runtime::ListenSpec{.transport = Transport::udp, .local = Endpoint{"127.0.0.1", 0}, .ws_path = "/"}};
    if (trace) {
        options.log = [&err, name](std::string_view line) { err << "[" << name << "] " << line << std::endl; };
        options.engine.trace = message_tracer(t, err, name);
    }
    options.on_transferee = [a, &t](UserAgent&, const TransfereeEvent& e) {
        a->transferee.push_back(e);
        print_transferee_event(t, a->name, e);
    };
    auto on_event = [a, &t](UserAgent& ua, const StackEvent& ev) {
        const auto* e = std::get_if<SessionEvent>(&ev);
        if (e == nullptr) return;
        a->events.push_back(*e);
        print_session_event(t, a->name, *e);
        if (e->kind == SessionEventKind::incoming_call && a->auto_answer) (void)ua.session(e->session).answer();
    };
    actor->ua = std::make_unique<UserAgent>(io, std::move(options), on_event);
    if (auto started = actor->ua->start(); !started) {
        t.event(name, "error", 0, {}, "cannot listen: " + started.error());
        return nullptr;
    }
    t.event(name, "listening", 0, {}, actor->uri());
    return actor;
}

TransferHandlers printing_handlers(Timeline& t, std::string ua) {
    TransferHandlers h;
    h.on_any = [&t, ua](Transfer&, const TransferEvent& e) { print_transfer_event(t, ua, e); };
    return h;
}

// alice calls `callee`; the session once confirmed on alice's side, or an empty one.
Session place_call(boost::asio::io_context& io, Timeline& t, Actor& alice, Actor& callee) {
    t.event(alice.name, "invite", 0, {}, "calling " + callee.name + " at " + callee.uri());
    auto s = alice.ua->invite(InviteOptions{.target = callee.uri(), .headers = {}, .body = std::nullopt,
                                            .content_type = "application/sdp"});
    if (!s) {
        t.event(alice.name, "error", 0, {}, "invite refused: " + std::string(to_string(s.error())));
        return {};
    }
    Session call = *s;
    if (!run_until(io, [&] { return call.state() == SessionState::confirmed || !call.state(); },
                   std::chrono::steady_clock::now() + wait_bound) ||
        call.state() != SessionState::confirmed) {
        t.event(alice.name, "error", 0, {}, "the call to " + callee.name + " was not confirmed");
        return {};
    }
    return call;
}

void check(Timeline& t, std::string_view what, bool ok, bool& all) {
    t.event("demo", ok ? "check-ok" : "check-failed", 0, {}, what);
    all = all && ok;
}

// alice REFERs `call` to `target` and waits (until `deadline`) for the transfer to end; nullopt
// (reported on the timeline) when the REFER could not be sent.
std::optional<Transfer> refer_and_wait(boost::asio::io_context& io, Timeline& t, Actor& alice, Session& call,
                                       TransferTarget target, TransferOptions options,
                                       std::chrono::steady_clock::time_point deadline) {
    options.handlers = printing_handlers(t, alice.name);
    auto transfer = call.refer(std::move(target), std::move(options));
    if (!transfer) {
        t.event(alice.name, "error", 0, {}, "REFER not sent: " + std::string(to_string(transfer.error().code)) + " " +
                                                transfer.error().detail);
        return std::nullopt;
    }
    run_until(io, [&] { return transfer->ended(); }, deadline);
    return std::move(*transfer);
}

// bob hangs up his new call with carol (if it is up), bounded.
void bob_hangs_up(boost::asio::io_context& io, Timeline& t, Actor& bob, SessionId call) {
    if (!call || !bob.ua->session(call).state()) return;
    t.event(bob.name, "bye", 0, {}, "bob hangs up the call with carol");
    (void)bob.ua->session(call).bye();
    run_until(io, [&] { return bob.gone(call); }, std::chrono::steady_clock::now() + wait_bound);
}

bool blind(boost::asio::io_context& io, Timeline& t, Actor& alice, Actor& bob, Actor& carol) {
    t.event("demo", "phase", 0, {}, "blind transfer: alice calls bob, then REFERs him to carol");
    Session ab = place_call(io, t, alice, bob);
    if (!ab.id()) return false;
    const std::size_t bob_mark = bob.transferee.size();
    const auto deadline = std::chrono::steady_clock::now() + wait_bound;
    auto transfer = refer_and_wait(io, t, alice, ab, carol.uri(), TransferOptions{}, deadline);
    if (!transfer) return false;
    SessionId bc{};
    // The new call: bob's INVITE to carol confirmed on both sides, alice's call to bob ended.
    const bool settled = run_until(
        io,
        [&] {
            bc = bob.last_session(TransfereeEventKind::transfer_started, bob_mark);
            SessionId at_carol{};
            for (const auto& e : carol.events)
                if (e.kind == SessionEventKind::incoming_call) at_carol = e.session;
            return bc && bob.confirmed(bc) && at_carol && carol.confirmed(at_carol) && alice.gone(ab.id());
        },
        deadline);
    bool ok = true;
    check(t, "blind: transfer outcome accepted", transfer->outcome() == ReferOutcome::accepted, ok);
    check(t, "blind: bob-carol call confirmed on both sides, alice-bob call ended", settled, ok);
    bob_hangs_up(io, t, bob, bc);
    return ok;
}

bool attended(boost::asio::io_context& io, Timeline& t, Actor& alice, Actor& bob, Actor& carol) {
    t.event("demo", "phase", 0, {}, "attended transfer: alice calls bob and carol, then REFERs bob with Replaces");
    Session ab = place_call(io, t, alice, bob);
    if (!ab.id()) return false;
    Session ac = place_call(io, t, alice, carol);
    if (!ac.id()) return false;
    const std::size_t bob_mark = bob.transferee.size();
    const std::size_t carol_mark = carol.transferee.size();
    const auto deadline = std::chrono::steady_clock::now() + wait_bound;
    auto transfer = refer_and_wait(io, t, alice, ab, ac, TransferOptions{.refer = {.display_name = DisplayNamePolicy::omit}}, deadline);
    if (!transfer) return false;
    SessionId at_bob{}, at_carol{};
    const bool settled = run_until(
        io,
        [&] {
            at_bob = bob.last_session(TransfereeEventKind::transfer_started, bob_mark);
            at_carol = carol.last_session(TransfereeEventKind::replaced, carol_mark);
            return at_bob && bob.confirmed(at_bob) && at_carol && carol.confirmed(at_carol) && alice.gone(ab.id()) &&
                   alice.gone(ac.id());
        },
        deadline);
    bool ok = true;
    check(t, "attended: transfer outcome accepted", transfer->outcome() == ReferOutcome::accepted, ok);
    check(t, "attended: bob's call replaced alice's at carol, confirmed on both sides; alice has no call left", settled,
          ok);
    bob_hangs_up(io, t, bob, at_bob);
    return ok;
}

}  // namespace

int run_demo(std::ostream& out, std::ostream& err, bool json_lines, bool trace) {
    Timeline t(out, json_lines);
    boost::asio::io_context io;
    auto alice = make_actor(io, t, err, trace, "alice", false);
    auto bob = make_actor(io, t, err, trace, "bob", true);
    auto carol = make_actor(io, t, err, trace, "carol", true);
    if (!alice || !bob || !carol) {
        t.outcome("demo", "failed", "listen", 1, "a user agent could not listen on 127.0.0.1");
        return 1;
    }
    const bool blind_ok = blind(io, t, *alice, *bob, *carol);
    const bool attended_ok = attended(io, t, *alice, *bob, *carol);
    // Stop in order, each flushing what it still has to say.
    for (Actor* a : {alice.get(), bob.get(), carol.get()}) a->ua->stop();
    const bool ok = blind_ok && attended_ok;
    std::string summary = std::string("blind transfer ") + (blind_ok ? "succeeded" : "FAILED") + ", attended transfer " +
                          (attended_ok ? "succeeded" : "FAILED");
    t.outcome("demo", ok ? "accepted" : "failed", ok ? "both_transfers_succeeded" : "transfer_failed", ok ? 0 : 1,
              summary);
    return ok ? 0 : 1;
}

}  // namespace referkit::cli
