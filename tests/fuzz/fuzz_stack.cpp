// libFuzzer target: three whole Stacks (alice, bob, carol) on a small in-process network, with the
// fuzzer in charge of everything a hostile world controls: which packet is delivered, dropped,
// duplicated or reordered; time (small steps and large jumps); the users' commands (calls, blind,
// attended and out-of-dialog transfers, BYE, CANCEL, re-INVITE, unsubscribe, answers to requests,
// transport errors); and injected messages: real messages of the run, captured as they crossed the
// network, mutated header by header (a grammar-aware mutation: start line, header values, tags,
// CSeq, Event/Subscription-State, sipfrag bodies, truncation), sent from the real peer's address or
// a stranger's, plus raw bytes.
//
// Invariants checked on every step (a violation aborts, so libFuzzer reports it):
//   - no event after `ended`: a transfer (TransferEvent), a transferee handle (transfer_ended) and a
//     session (session_ended) raise nothing after their terminal event, which comes at most once;
//   - at most one final response status per server transaction;
//   - the limits hold: transactions, sessions, dialogs, requests waiting;
// and once the input is consumed, with the network delivering everything and every call hung up,
// after ten minutes of virtual time: every transfer started and every transferee transfer accepted
// has ended exactly once, and every stack is empty (StackCounts all zero).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "referkit/core/stack.hpp"

using namespace referkit;
using namespace std::chrono_literals;

namespace {

[[noreturn]] void violation(const char* what, std::uint64_t a = 0, std::uint64_t b = 0) {
    std::fprintf(stderr, "fuzz_stack invariant violated: %s (%llu, %llu)\n", what, static_cast<unsigned long long>(a),
                 static_cast<unsigned long long>(b));
    std::abort();
}

// The fuzzer's bytes, read front to back; zeros once consumed.
struct Input {
    const std::uint8_t* p;
    std::size_t n;
    [[nodiscard]] bool empty() const { return n == 0; }
    std::uint8_t byte() {
        if (n == 0) return 0;
        --n;
        return *p++;
    }
    std::uint32_t u16() { return static_cast<std::uint32_t>(byte()) << 8 | byte(); }
    std::string_view bytes(std::size_t max) {
        std::size_t k = std::min<std::size_t>(n, std::min<std::size_t>(max, byte()));
        std::string_view s(reinterpret_cast<const char*>(p), k);
        p += k;
        n -= k;
        return s;
    }
};

// Not a cryptographic hash: digest needs one injected, and both sides use the same.
std::string toy_hash(DigestAlgorithm, std::string_view data) {
    std::uint64_t h = 1469598103934665603ull, g = 1099511628211ull;
    for (unsigned char c : data) h = (h ^ c) * 1099511628211ull, g = (g + c) * 0x9E3779B97F4A7C15ull;
    static constexpr char d[] = "0123456789abcdef";
    std::string out;
    for (std::uint64_t v : {h, g})
        for (int s = 60; s >= 0; s -= 4) out += d[(v >> s) & 0xF];
    return out;
}

struct Packet {
    Endpoint from, to;
    std::string bytes;
};

constexpr std::size_t k_nodes = 3;

struct Node {
    std::string name;
    Endpoint address;
    Stack stack;
    std::set<std::uint64_t> transfers_started, transfers_ended;
    std::set<std::uint64_t> transferee_accepted, transferee_ended;
    std::set<std::uint64_t> sessions_seen, sessions_ended;
    std::vector<IncomingId> pending;                     // requests the application has not answered
    std::map<std::uint64_t, int> finals;                 // server transaction -> its final status
    bool answer_calls = true;

    Node(std::string n, Endpoint a, StackConfig c) : name(std::move(n)), address(std::move(a)), stack(std::move(c)) {
        stack.on_local_address(Transport::udp, address, address.host + ":" + std::to_string(address.port));
    }
    [[nodiscard]] std::string uri() const { return "sip:" + name + "@" + address.host + ":" + std::to_string(address.port); }
    [[nodiscard]] std::vector<SessionId> live_sessions() const {
        std::vector<SessionId> out;
        for (std::uint64_t s : sessions_seen)
            if (!sessions_ended.contains(s)) out.push_back(SessionId{s});
        return out;
    }
};

StackConfig config_for(const std::string& name, const Endpoint& a, std::uint64_t seed, std::uint8_t flags) {
    StackConfig c;
    c.ua.aor = "sip:" + name + "@" + a.host;
    c.ua.transaction.random = [n = seed]() mutable { return n += 0x9E3779B97F4A7C15ull; };
    c.ua.digest_hash = toy_hash;
    c.ua.credentials = {{.username = "alice", .password = "s3cret", .realm = ""}};
    // Small limits, so that the fuzzer reaches them.
    Limits& l = c.ua.transaction.limits;
    l.max_transactions = 48;
    l.max_transactions_per_source = 20;
    l.reserved_in_dialog_transactions = 16;
    c.ua.max_sessions = 6;
    c.ua.max_dialogs = 12;
    c.ua.max_requests = 12;
    c.ua.max_final_notifies = 8;
    c.refer.aor = c.ua.aor;
    c.refer.out_of_dialog_refer = (flags & 1) ? OutOfDialogRefer::allow : OutOfDialogRefer::refuse;
    if (flags & 2) {
        c.ua.server_auth = ServerAuth{.methods = {Method::refer}, .in_dialog = (flags & 4) != 0,
                                      .digest = DigestServerConfig{.realm = "example",
                                                                   .accounts = {{.username = "alice", .password = "s3cret", .realm = ""}},
                                                                   .algorithms = {DigestAlgorithm::sha256, DigestAlgorithm::md5},
                                                                   .nonce_lifetime = 30s,
                                                                   .max_nonce_records = 4}};
    }
    c.refer.bye_on_refer_481_408 = (flags & 8) != 0;
    return c;
}

// ------------------------------------------------------------------ grammar-aware mutation

std::vector<std::string> lines_of(const std::string& m, std::string& body) {
    std::vector<std::string> out;
    auto end = m.find("\r\n\r\n");
    std::string head = end == std::string::npos ? m : m.substr(0, end);
    body = end == std::string::npos ? std::string{} : m.substr(end + 4);
    std::size_t pos = 0;
    while (pos <= head.size()) {
        auto e = head.find("\r\n", pos);
        if (e == std::string::npos) e = head.size();
        out.push_back(head.substr(pos, e - pos));
        pos = e + 2;
    }
    return out;
}

const char* const k_values[] = {
    "", "0", "4294967296", "-1", "active;expires=0", "terminated;reason=reason=noresource", "pending",
    "terminated;retry-after=x", "refer;id=", "refer;id=1", "refer;id=99999999999", "refer", "presence",
    "<sip:victim@10.9.9.9>", "<sip:a@b?Replaces=x%3Bto-tag%3D1%3Bfrom-tag%3D2>", "message/sipfrag",
    "application/sdp", "SIP/2.0 200 OK", "SIP/2.0 180 Ringing", "SIP/2.0 503 Service Unavailable", "SIP/2.0 99 x",
    "<sip:x@10.0.0.1;lr>", "replaces, norefersub", "Digest realm=\"example\", nonce=\"0\"", "1 REFER", "2 NOTIFY",
    "3 INVITE", "1 BYE", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKfuzz;rport", "*", "<sip:bob@10.0.0.2>;tag=",
};
const char* const k_methods[] = {"INVITE", "ACK", "BYE", "CANCEL", "REFER", "NOTIFY", "SUBSCRIBE", "OPTIONS", "INFO",
                                 "MESSAGE", "UPDATE", "PRACK", "FOO"};

std::string mutate(const std::string& seed, Input& in) {
    std::string body;
    auto lines = lines_of(seed, body);
    const int edits = 1 + in.byte() % 4;
    for (int e = 0; e < edits && !lines.empty(); ++e) {
        const std::size_t i = in.byte() % lines.size();
        std::string& line = lines[i];
        const auto colon = line.find(':');
        switch (in.byte() % 12) {
            case 0:  // a header value replaced by a known troublesome one
                if (colon != std::string::npos && i > 0)
                    line = line.substr(0, colon + 1) + " " + k_values[in.byte() % std::size(k_values)];
                break;
            case 1:  // a header value replaced by fuzzer bytes
                if (colon != std::string::npos && i > 0) line = line.substr(0, colon + 1) + " " + std::string(in.bytes(64));
                break;
            case 2: lines.erase(lines.begin() + static_cast<long>(i)); break;  // a header gone
            case 3: lines.insert(lines.begin() + static_cast<long>(i), line); break;  // a header twice
            case 4: {  // the method (start line and CSeq) changed
                std::string m = k_methods[in.byte() % std::size(k_methods)];
                if (auto sp = lines[0].find(' '); sp != std::string::npos && !lines[0].starts_with("SIP/"))
                    lines[0] = m + lines[0].substr(sp);
                for (auto& l : lines)
                    if (l.starts_with("CSeq:"))
                        if (auto sp = l.rfind(' '); sp != std::string::npos) l = l.substr(0, sp + 1) + m;
                break;
            }
            case 5:  // the status of a response
                if (lines[0].starts_with("SIP/2.0 ")) lines[0] = "SIP/2.0 " + std::to_string(100 + in.u16() % 600) + " X";
                break;
            case 6:  // the CSeq number moved
                for (auto& l : lines)
                    if (l.starts_with("CSeq:")) {
                        auto sp = l.rfind(' ');
                        if (sp != std::string::npos)
                            l = "CSeq: " + std::to_string(static_cast<int>(in.byte()) - 8 + 1) + l.substr(sp);
                    }
                break;
            case 7:  // a tag removed or changed
                for (auto& l : lines)
                    if ((l.starts_with("To:") || l.starts_with("From:")) && (in.byte() & 1)) {
                        auto t = l.find(";tag=");
                        l = t == std::string::npos ? l + ";tag=f" + std::to_string(in.byte()) : l.substr(0, t);
                        break;
                    }
                break;
            case 8:  // the sipfrag or SDP body changed
                body = in.byte() & 1 ? std::string(k_values[17 + in.byte() % 4]) : std::string(in.bytes(96));
                break;
            case 9: line.resize(line.size() / 2); break;  // a line cut
            case 10:  // a parameter appended
                line += ";" + std::string(in.bytes(24));
                break;
            case 11: {  // the branch changed: a new transaction for the same request
                auto b = line.find("branch=");
                if (b != std::string::npos && b + 14 <= line.size()) line.insert(b + 14, "m" + std::to_string(in.byte()));
                break;
            }
        }
    }
    std::string out;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (lines[i].starts_with("Content-Length:") || lines[i].starts_with("l:")) continue;
        out += lines[i];
        out += "\r\n";
    }
    if (in.byte() % 8 != 0) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    out += "\r\n";
    out += body;
    if (in.byte() % 16 == 0) out.resize(out.size() * (in.byte() % 100) / 100);  // truncated in flight
    return out;
}

// ------------------------------------------------------------------ the world

struct World {
    std::vector<std::unique_ptr<Node>> nodes;
    std::deque<Packet> flight;
    std::deque<std::string> captured;  // real messages of this run (mutation seeds)
    Time now{std::chrono::seconds(1)};
    bool trace = std::getenv("FUZZ_STACK_TRACE") != nullptr;  // replaying a finding: what happened

    explicit World(std::uint64_t seed, std::uint8_t flags) {
        const char* names[k_nodes] = {"alice", "bob", "carol"};
        for (std::size_t i = 0; i < k_nodes; ++i) {
            Endpoint a{"10.0.0." + std::to_string(i + 1), 5060};
            nodes.push_back(std::make_unique<Node>(names[i], a, config_for(names[i], a, seed * 3 + i, flags >> (2 * i))));
        }
    }

    Node* at(const Endpoint& e) {
        for (auto& n : nodes)
            if (n->address == e) return n.get();
        return nullptr;
    }

    void check_limits(const Node& n) const {
        const StackCounts c = n.stack.counts();
        const Limits& l = n.stack.config().ua.transaction.limits;
        if (c.transactions > l.max_transactions + l.reserved_in_dialog_transactions) violation("transactions over the limit", c.transactions);
        if (c.sessions > n.stack.config().ua.max_sessions) violation("sessions over the limit", c.sessions);
        // A call admitted under max_sessions and max_dialogs keeps the right to its dialog (stack_config.hpp).
        if (c.dialogs > n.stack.config().ua.max_dialogs + n.stack.config().ua.max_sessions)
            violation("dialogs over the limit", c.dialogs);
        if (c.incoming > n.stack.config().ua.max_requests) violation("requests waiting over the limit", c.incoming);
    }

    void on_event(Node& n, StackEvent& ev) {
        if (trace) {
            std::visit([&](const auto& e) {
                using E = std::decay_t<decltype(e)>;
                if constexpr (std::is_same_v<E, SessionEvent>)
                    std::fprintf(stderr, "%lld %s session %llu %s %d dialog %llu\n", static_cast<long long>(now.count() / 1000000), n.name.c_str(),
                                 static_cast<unsigned long long>(e.session.value), std::string(to_string(e.kind)).c_str(), e.status,
                                 static_cast<unsigned long long>(e.dialog.value));
                else if constexpr (std::is_same_v<E, DialogEndedEvent>)
                    std::fprintf(stderr, "%lld %s dialog %llu ended\n", static_cast<long long>(now.count() / 1000000), n.name.c_str(),
                                 static_cast<unsigned long long>(e.dialog.value));
                else if constexpr (std::is_same_v<E, RequestEvent>)
                    std::fprintf(stderr, "%lld %s request %llu %s dialog %llu\n", static_cast<long long>(now.count() / 1000000), n.name.c_str(),
                                 static_cast<unsigned long long>(e.incoming.value), std::string(e.message.method_text()).c_str(),
                                 static_cast<unsigned long long>(e.dialog.value));
                else if constexpr (std::is_same_v<E, ResponseEvent>)
                    std::fprintf(stderr, "%lld %s response %llu %d dialog %llu\n", static_cast<long long>(now.count() / 1000000), n.name.c_str(),
                                 static_cast<unsigned long long>(e.request.value), e.status, static_cast<unsigned long long>(e.dialog.value));
                else if constexpr (std::is_same_v<E, TransferEvent>)
                    std::fprintf(stderr, "%lld %s transfer %llu %s %d\n", static_cast<long long>(now.count() / 1000000), n.name.c_str(),
                                 static_cast<unsigned long long>(e.transfer.value), std::string(e.name()).c_str(), e.status);
                else if constexpr (std::is_same_v<E, TransfereeEvent>)
                    std::fprintf(stderr, "%lld %s transferee %llu %s %d session %llu\n", static_cast<long long>(now.count() / 1000000),
                                 n.name.c_str(), static_cast<unsigned long long>(e.handle.value), std::string(to_string(e.kind)).c_str(),
                                 e.status, static_cast<unsigned long long>(e.session.value));
            }, ev);
        }
        if (auto* s = std::get_if<SessionEvent>(&ev)) {
            if (n.sessions_ended.contains(s->session.value)) violation("session event after session_ended", s->session.value, static_cast<std::uint64_t>(s->kind));
            n.sessions_seen.insert(s->session.value);
            if (s->kind == SessionEventKind::session_ended) n.sessions_ended.insert(s->session.value);
            if (s->kind == SessionEventKind::incoming_call && n.answer_calls)
                (void)n.stack.answer(s->session, AnswerOptions{}, now);
        } else if (auto* t = std::get_if<TransferEvent>(&ev)) {
            if (n.transfers_ended.contains(t->transfer.value)) violation("transfer event after ended", t->transfer.value, static_cast<std::uint64_t>(t->kind));
            if (t->kind == ReferEventKind::ended) n.transfers_ended.insert(t->transfer.value);
        } else if (auto* e = std::get_if<TransfereeEvent>(&ev)) {
            if (e->handle.value != 0) {
                if (n.transferee_ended.contains(e->handle.value)) violation("transferee event after transfer_ended", e->handle.value, static_cast<std::uint64_t>(e->kind));
                if (e->kind == TransfereeEventKind::refer_received && e->status >= 200 && e->status < 300)
                    n.transferee_accepted.insert(e->handle.value);
                if (e->kind == TransfereeEventKind::transfer_ended) n.transferee_ended.insert(e->handle.value);
            }
            if (e->session.value != 0) n.sessions_seen.insert(e->session.value);
        } else if (auto* r = std::get_if<RequestEvent>(&ev)) {
            n.pending.push_back(r->incoming);
        }
    }

    // Everything each stack has to say: transmits (checked, then in flight) and events.
    void settle() {
        for (int round = 0; round < 64; ++round) {
            bool any = false;
            for (auto& np : nodes) {
                Node& n = *np;
                while (auto t = n.stack.poll_transmit()) {
                    any = true;
                    std::string bytes(t->bytes.view());
                    if (t->transaction.value != 0 && bytes.starts_with("SIP/2.0 ") && bytes.size() > 11) {
                        const int status = std::atoi(bytes.c_str() + 8);
                        if (status >= 200) {
                            auto [it, fresh] = n.finals.try_emplace(t->transaction.value, status);
                            if (!fresh && it->second != status) violation("two final statuses for one server transaction", it->second, static_cast<std::uint64_t>(status));
                        }
                    }
                    if (flight.size() < 512) flight.push_back(Packet{n.address, t->destination.remote, std::move(bytes)});
                }
                while (auto ev = n.stack.poll_event()) {
                    any = true;
                    on_event(n, *ev);
                }
                check_limits(n);
            }
            if (!any) return;
        }
    }

    void deliver(Packet p) {
        if (trace) std::fprintf(stderr, "%lld deliver %s -> %s: %s\n", static_cast<long long>(now.count() / 1000000), p.from.host.c_str(),
                                p.to.host.c_str(), p.bytes.substr(0, p.bytes.find('\r')).c_str());
        if (captured.size() >= 48) captured.pop_front();
        captured.push_back(p.bytes);
        if (Node* n = at(p.to)) n->stack.receive(SharedBuffer::copy_of(p.bytes), Source{Transport::udp, p.from, 0}, now);
    }

    void advance(Duration d) {
        const Time until = now + d;
        // Timers fire in order up to `until`, each at its own time.
        for (int guard = 0; guard < 100000; ++guard) {
            std::optional<Time> next;
            for (auto& n : nodes)
                if (auto t = n->stack.next_deadline(); t && (!next || *t < *next)) next = *t;
            if (!next || *next > until) break;
            now = std::max(now, *next);
            for (auto& n : nodes)
                if (auto t = n->stack.next_deadline(); t && *t <= now) n->stack.on_timer(now);
            settle();
        }
        now = until;
    }

    Node& pick(Input& in) { return *nodes[in.byte() % k_nodes]; }
    template <class T>
    static T pick_from(const std::vector<T>& v, Input& in) {
        return v.empty() ? T{} : v[in.byte() % v.size()];
    }

    void command(Input& in) {
        Node& n = pick(in);
        Node& peer = pick(in);
        Node& third = pick(in);
        auto sessions = n.live_sessions();
        switch (in.byte() % 12) {
            case 0: {
                InviteOptions o;
                o.target = peer.uri();
                (void)n.stack.invite(o, now);
                break;
            }
            case 1:
                if (auto id = n.stack.refer(pick_from(sessions, in), third.uri(), ReferOptions{}, now))
                    n.transfers_started.insert(id->value);
                break;
            case 2:
                if (auto id = n.stack.refer_attended(pick_from(sessions, in), pick_from(sessions, in), ReferOptions{}, now))
                    n.transfers_started.insert(id->value);
                break;
            case 3:
                if (auto id = n.stack.refer_out_of_dialog(peer.uri(), third.uri(), ReferOptions{}, now))
                    n.transfers_started.insert(id->value);
                break;
            case 4: (void)n.stack.bye(pick_from(sessions, in), now); break;
            case 5: (void)n.stack.cancel(pick_from(sessions, in), now); break;
            case 6:
                (void)n.stack.reinvite(pick_from(sessions, in),
                                       ReinviteOptions{.direction = in.byte() & 1 ? MediaDirection::sendonly : MediaDirection::sendrecv,
                                                       .body = std::nullopt},
                                       now);
                break;
            case 7: {
                std::vector<std::uint64_t> live;
                for (auto t : n.transfers_started)
                    if (!n.transfers_ended.contains(t)) live.push_back(t);
                if (!live.empty()) (void)n.stack.unsubscribe(TransferId{live[in.byte() % live.size()]}, now);
                break;
            }
            case 8:
                if (!n.pending.empty()) {
                    const std::size_t i = in.byte() % n.pending.size();
                    static constexpr int statuses[] = {200, 202, 180, 400, 481, 486, 500, 603};
                    (void)n.stack.respond(n.pending[i], UaResponse{.status = statuses[in.byte() % 8]}, now);
                    n.pending.erase(n.pending.begin() + static_cast<long>(i));
                }
                break;
            case 9: n.stack.transport_error(TransactionId{1 + in.byte() % 64u}, now); break;
            case 10: n.answer_calls = !n.answer_calls; break;
            case 11:
                (void)n.stack.reject(pick_from(sessions, in), 486, "Busy Here", now);
                break;
        }
    }

    void inject(Input& in) {
        Node& to = pick(in);
        Endpoint from = in.byte() & 1 ? pick(in).address : Endpoint{"10.9.0." + std::to_string(in.byte()), 5060};
        std::string bytes;
        if (captured.empty() || (in.byte() & 7) == 0) bytes = std::string(in.bytes(255));
        else bytes = mutate(captured[in.byte() % captured.size()], in);
        to.stack.receive(SharedBuffer::copy_of(bytes), Source{Transport::udp, from, 0}, now);
    }

    void step(Input& in) {
        switch (in.byte() % 10) {
            case 0: advance(std::chrono::milliseconds(in.u16() % 4000)); break;
            case 1: advance(std::chrono::seconds(1 + in.byte() % 120)); break;  // a jump
            case 2:
            case 3:
                if (!flight.empty()) {
                    Packet p = std::move(flight.front());
                    flight.pop_front();
                    deliver(std::move(p));
                }
                break;
            case 4:
                if (!flight.empty()) {  // lost, duplicated, or overtaken
                    const std::size_t i = in.byte() % flight.size();
                    switch (in.byte() % 3) {
                        case 0: flight.erase(flight.begin() + static_cast<long>(i)); break;
                        case 1: deliver(flight[i]); break;
                        case 2: {
                            Packet p = std::move(flight[i]);
                            flight.erase(flight.begin() + static_cast<long>(i));
                            deliver(std::move(p));
                            break;
                        }
                    }
                }
                break;
            case 5:
            case 6: command(in); break;
            case 7:
            case 8: inject(in); break;
            case 9:  // the network delivers a burst
                for (int k = in.byte() % 16; k > 0 && !flight.empty(); --k) {
                    Packet p = std::move(flight.front());
                    flight.pop_front();
                    deliver(std::move(p));
                    settle();
                }
                break;
        }
        settle();
    }

    // The input is consumed: the network delivers everything, calls are hung up, time runs ten
    // minutes; then every transfer has ended and every stack is empty.
    void quiesce() {
        for (int second = 0; second < 600; ++second) {
            for (auto& np : nodes) {
                Node& n = *np;
                n.answer_calls = true;
                for (IncomingId id : n.pending) (void)n.stack.respond(id, UaResponse{.status = 200}, now);
                n.pending.clear();
                for (SessionId s : n.live_sessions()) {
                    switch (n.stack.session_state(s).value_or(SessionState::ending)) {
                        case SessionState::calling:
                        case SessionState::proceeding: (void)n.stack.cancel(s, now); break;
                        case SessionState::incoming: (void)n.stack.reject(s, 486, "Busy Here", now); break;
                        case SessionState::accepted:
                        case SessionState::confirmed: (void)n.stack.bye(s, now); break;
                        case SessionState::ending: break;
                    }
                }
            }
            settle();
            while (!flight.empty()) {
                Packet p = std::move(flight.front());
                flight.pop_front();
                deliver(std::move(p));
                settle();
            }
            advance(1s);
        }
        for (auto& np : nodes) {
            Node& n = *np;
            for (auto t : n.transfers_started)
                if (!n.transfers_ended.contains(t)) violation("a transfer never ended", t);
            for (auto t : n.transferee_accepted)
                if (!n.transferee_ended.contains(t)) violation("an accepted transferee transfer never ended", t);
            const StackCounts c = n.stack.counts();
            if (c.sessions || c.dialogs || c.requests || c.incoming || c.transactions || c.timers || c.transaction_owners ||
                c.transfers || c.transferees) {
                std::fprintf(stderr, "%s: sessions %zu dialogs %zu requests %zu incoming %zu transactions %zu timers %zu "
                             "owners %zu transfers %zu transferees %zu\n", n.name.c_str(), c.sessions, c.dialogs, c.requests,
                             c.incoming, c.transactions, c.timers, c.transaction_owners, c.transfers, c.transferees);
                violation("a stack is not empty after ten quiet minutes");
            }
        }
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    Input in{data, size};
    const std::uint8_t seed = in.byte();
    const std::uint8_t flags = in.byte();
    World w(seed, flags);
    // A transfer in flight to start from: alice calls bob; the fuzzer takes over from there.
    InviteOptions o;
    o.target = w.nodes[1]->uri();
    (void)w.nodes[0]->stack.invite(o, w.now);
    w.settle();
    for (int steps = 0; !in.empty() && steps < 400; ++steps) w.step(in);
    w.quiesce();
    return 0;
}
