// Stack-state benchmark: CPU per call transfer between two user-agent cores on the in-memory
// simulator (tests/support/sim_network.hpp), with N idle transfers held open.
//
// Build and run (Release, preset `bench`):
//   cmake --preset bench && cmake --build --preset bench -j1 --target bench_stack_state
//   build/bench/bench/stack_state
//
// Node A (192.0.2.1:5060, UDP) is a transferor: a Stack (include/referkit/core/stack.hpp) with its
// defaults. Node B (192.0.2.2:5060) is a scripted REFER target, a Stack that leaves REFER to its
// application (ReferConfig::handle_refer = false): it answers every out-of-dialog REFER 202
// (creating the dialog) and NOTIFYs
// "100 Trying" (Subscription-State: active;expires=3600) in that dialog. For a REFER to
// sip:hold@... it stops there: the transfer stays open (A's subscription lives, refreshed only
// after ~3568 s, far beyond the virtual time of a run). For a REFER to sip:done@... it also
// NOTIFYs "200 OK" (terminated;reason=noresource) at once, and releases its dialog when that
// NOTIFY is answered. Every other request is answered 200.
//
// The question it answers: does a transfer cost the same with 10,000 dialogs and subscriptions
// open as with none (docs/ARCHITECTURE.md: every lookup an index, every timer in one queue)?
//
// Setup (not timed): N held transfers are opened, the network is run until nothing is in
// flight and then for 40 s of virtual time, so that every transaction of the setup has ended and
// only the N dialogs and subscriptions stay open (idle); every one of them must be subscribed.
// Then one iteration = one measured transfer: virtual time advances 1 ms (timers due meanwhile run), A sends a REFER to sip:done@..., the
// network runs 50 ms of virtual time (link latency 10 ms), and the transfer must have ended with
// outcome `accepted`.
//   BM_transfer/N   N in {0, 1000, 5000, 10000}; items_per_second = transfers/s,
//                   us_per_transfer = CPU microseconds per transfer
//
// Callgrind (instructions per transfer; no Google Benchmark involved):
//   B=build/bench/bench/stack_state
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.ss.base $B --callgrind --open=N --passes=0
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.ss      $B --callgrind --open=N --passes=P
//   -> instructions per transfer = (Ir(--passes=P) - Ir(--passes=0)) / P, at the same N
//   Setting up 10,000 held transfers takes ~40x longer under callgrind; add --instr-atstart=no to
//   both valgrind commands to run the setup uninstrumented (the program starts the
//   instrumentation after the setup), which gives the same difference.
//
// The API is touched only by the two node classes (Transferor, ReferTarget); World and
// everything below it speak in transfers. The nodes are tests/support's SimNode, which drives a
// core the way the runtime does.
#include <benchmark/benchmark.h>
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>  // Debian: valgrind (the macros do nothing outside valgrind)
#else
#define CALLGRIND_START_INSTRUMENTATION ((void)0)
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "referkit/core/stack.hpp"
#include "sim_node.hpp"

namespace {

using namespace std::chrono_literals;
using referkit::Duration;
using referkit::Endpoint;
using referkit::Time;
namespace sim = referkit::sim;

constexpr int kDefaultPasses = 2000;
constexpr int kWarmUp = 1000;  // transfers run before the measured ones (BM_transfer)
const Endpoint kAddrA{"192.0.2.1", 5060};
const Endpoint kAddrB{"192.0.2.2", 5060};
constexpr std::string_view kHeldUri = "sip:hold@192.0.2.2:5060";
constexpr std::string_view kDoneUri = "sip:done@192.0.2.2:5060";
constexpr std::string_view kTarget = "sip:carol@192.0.2.3";

// ------------------------------------------------------------------------------------------------
// API adapter: everything that names referkit's API is in the two classes below.

referkit::UserAgentConfig ua_config(std::string aor, std::uint64_t seed) {
    referkit::UserAgentConfig c;
    c.aor = std::move(aor);
    c.transaction.random = referkit::test::seeded_random(seed);
    // Nothing may be refused for lack of room.
    c.max_dialogs = std::size_t{1} << 20;
    c.max_requests = std::size_t{1} << 20;
    c.max_sessions = std::size_t{1} << 20;
    c.transaction.limits.max_transactions = std::size_t{1} << 22;
    c.transaction.limits.max_transactions_per_source = 0;  // one peer sends everything
    return c;
}

// A Stack on the simulator whose events go to `on_event` (no log: a run holds millions).
class Node : public sim::DrivenNode<referkit::Stack> {
public:
    Node(sim::Network& net, Endpoint address, referkit::StackConfig config)
        : DrivenNode(net, std::move(address), std::move(config)) {
        record_sent(false);  // a run sends millions of messages
    }
    referkit::Stack& stack() noexcept { return core(); }
    [[nodiscard]] const referkit::Stack& stack() const noexcept { return core(); }

protected:
    virtual void on_event(const referkit::StackEvent& ev, Time now) = 0;

private:
    void on_core_event(referkit::StackEvent& e, Time now) override { on_event(e, now); }
};

// Node A: a Stack with its defaults, transferring.
class Transferor final : public Node {
public:
    using Handle = std::uint64_t;  // 0 = the REFER could not be sent

    Transferor(sim::Network& net, Endpoint address)
        : Node(net, std::move(address), referkit::StackConfig{.ua = ua_config("sip:alice@192.0.2.1", 0x100), .refer = {}}) {}

    // Sends an out-of-dialog REFER to `request_uri` naming kTarget.
    Handle refer(std::string_view request_uri, Time now) {
        referkit::ReferOptions o;
        o.notify_wait = std::chrono::hours(2);
        auto h = stack().refer_out_of_dialog(request_uri, kTarget, std::move(o), now);
        pump(now);
        return h ? h->value : 0;
    }
    // The transfer's subscription is up (2xx to the REFER received, waiting for NOTIFYs).
    [[nodiscard]] bool subscribed(Handle h) const {
        auto c = stack().transfer(referkit::TransferId{h});
        return c != nullptr && c->state() == referkit::ReferState::subscribed;
    }
    // The transfer ended with outcome accepted (forgets the answer).
    bool take_accepted(Handle h) {
        auto it = ended_.find(h);
        if (it == ended_.end()) return false;
        const bool ok = it->second == referkit::ReferOutcome::accepted;
        ended_.erase(it);
        return ok;
    }
    [[nodiscard]] std::size_t live() const { return stack().counts().transfers; }
    [[nodiscard]] std::size_t dialogs() const { return stack().counts().dialogs; }

private:
    void on_event(const referkit::StackEvent& ev, Time now) override {
        if (const auto* t = std::get_if<referkit::TransferEvent>(&ev)) {
            if (t->kind == referkit::ReferEventKind::ended) ended_[t->transfer.value] = t->outcome;
        } else if (const auto* r = std::get_if<referkit::RequestEvent>(&ev)) {
            referkit::UaResponse ok;
            ok.status = 200;
            ok.reason = "OK";
            (void)stack().respond(r->incoming, ok, now);
        }
    }

    std::unordered_map<Handle, referkit::ReferOutcome> ended_;
};

// Node B: a Stack scripted as a REFER target (see the top of the file).
class ReferTarget final : public Node {
public:
    ReferTarget(sim::Network& net, Endpoint address)
        : Node(net, std::move(address),
               referkit::StackConfig{.ua = ua_config("sip:bob@192.0.2.2", 0x900),
                                     .refer = referkit::ReferConfig{.handle_refer = false, .handle_replaces = false}}) {}
    // Commands the stack refused (a respond / send_in_dialog / remove_usage that failed).
    [[nodiscard]] std::uint64_t errors() const { return errors_; }
    [[nodiscard]] std::size_t dialogs() const { return stack().counts().dialogs; }

private:
    static referkit::InDialogRequest notify(std::uint32_t id, std::string state, std::string body) {
        referkit::InDialogRequest n;
        n.method = "NOTIFY";
        n.headers = {{"Event", "refer;id=" + std::to_string(id)}, {"Subscription-State", std::move(state)}};
        n.content_type = "message/sipfrag";
        n.body = std::move(body);
        return n;
    }
    void on_event(const referkit::StackEvent& event, Time now) override {
        if (const auto* r = std::get_if<referkit::ResponseEvent>(&event)) {
            // The answer to a final NOTIFY: the subscription is over, release our dialog usage.
            if (!r->final) return;
            auto it = release_.find(r->request.value);
            if (it == release_.end()) return;
            if (!stack().remove_usage(it->second, now)) ++errors_;
            release_.erase(it);
            return;
        }
        const auto* ev = std::get_if<referkit::RequestEvent>(&event);
        if (ev == nullptr) return;
        if (ev->method == referkit::Method::refer && !ev->dialog) {
            const std::uint32_t id = ev->message.cseq().number;
            const bool done = ev->message.request_uri().user == "done";
            referkit::UaResponse accepted;
            accepted.status = 202;
            accepted.reason = "Accepted";
            accepted.creates_dialog = true;
            auto d = stack().respond(ev->incoming, accepted, now);
            if (!d || !*d) {
                ++errors_;
                return;
            }
            if (!stack().send_in_dialog(*d, notify(id, "active;expires=3600", "SIP/2.0 100 Trying\r\n"), now))
                ++errors_;
            if (!done) return;
            auto r = stack().send_in_dialog(*d, notify(id, "terminated;reason=noresource", "SIP/2.0 200 OK\r\n"), now);
            if (r) release_[r->id.value] = *d;
            else ++errors_;
            return;
        }
        referkit::UaResponse ok;
        ok.status = 200;
        ok.reason = "OK";
        if (!stack().respond(ev->incoming, ok, now)) ++errors_;
    }

    std::unordered_map<std::uint64_t, referkit::DialogId> release_;  // final NOTIFY -> its dialog
    std::uint64_t errors_ = 0;
};

// ------------------------------------------------------------------------------------------------
// API-neutral from here on.

// The network, the two nodes, and the held transfers.
class World {
public:
    World() : net_(42), a_(net_, kAddrA), b_(net_, kAddrB) {}

    // Opens n held transfers and runs the network until nothing is in flight. Returns an error
    // text, or "" when every one of them is subscribed.
    std::string open_held(std::size_t n) {
        std::vector<Transferor::Handle> held;
        held.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            const auto h = a_.refer(kHeldUri, net_.now());
            if (h == 0) return "REFER " + std::to_string(i) + " of the held ones could not be sent";
            held.push_back(h);
        }
        settle();
        // Idle: the transactions of the setup end (Timer J, 64*T1 = 32 s, is the longest) before
        // anything is measured, so that only the dialogs and subscriptions stay open.
        net_.run_until(net_.now() + 40s);
        std::size_t bad = 0;
        for (auto h : held)
            if (!a_.subscribed(h)) ++bad;
        if (bad != 0) return std::to_string(bad) + " of " + std::to_string(n) + " held transfers are not subscribed";
        if (b_.errors() != 0) return "the REFER target had " + std::to_string(b_.errors()) + " refused commands";
        return {};
    }

    // One measured transfer; true when it ended with outcome accepted.
    bool transfer() {
        net_.run_until(net_.now() + 1ms);
        const auto h = a_.refer(kDoneUri, net_.now());
        if (h == 0) return false;
        net_.run_until(net_.now() + 50ms);
        return a_.take_accepted(h);
    }

    [[nodiscard]] std::size_t live() const { return a_.live(); }
    [[nodiscard]] std::uint64_t target_errors() const { return b_.errors(); }
    [[nodiscard]] Time now() const { return net_.now(); }
    [[nodiscard]] std::uint64_t delivered() const { return net_.stats().delivered; }
    // Dialogs held by A and by B (each should equal the held transfers once a run settles).
    [[nodiscard]] std::pair<std::size_t, std::size_t> dialogs() const { return {a_.dialogs(), b_.dialogs()}; }

private:
    // Runs the network until no packet is in flight (node deadlines never make it idle).
    void settle() {
        while (net_.in_flight() > 0)
            if (!net_.step(net_.now() + 10s)) break;
    }

    sim::Network net_;
    Transferor a_;
    ReferTarget b_;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void BM_transfer(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto t0 = std::chrono::steady_clock::now();
    auto world = std::make_unique<World>();
    if (auto err = world->open_held(n); !err.empty()) {
        state.SkipWithError(err.c_str());
        for (auto _ : state) {
        }
        return;
    }
    // Warm-up, not timed: the steady state of the transaction layer (completed transactions live
    // up to Timer J, 32 s of virtual time) and of the allocator after the setup.
    for (int i = 0; i < kWarmUp; ++i)
        if (!world->transfer()) {
            state.SkipWithError("a warm-up transfer did not end accepted");
            for (auto _ : state) {
            }
            return;
        }
    const double setup_s = seconds_since(t0);

    std::int64_t done = 0, failed = 0;
    for (auto _ : state) {
        if (world->transfer()) ++done;
        else ++failed;
    }
    if (failed != 0 || world->target_errors() != 0) {
        const std::string err = std::to_string(failed) + " transfers did not end accepted; target errors " +
                                std::to_string(world->target_errors());
        state.SkipWithError(err.c_str());
        return;
    }
    if (world->live() != n) {
        state.SkipWithError("the number of open transfers changed during the run");
        return;
    }
    state.SetItemsProcessed(done);
    // CPU seconds / (done / 1e6) = CPU microseconds per transfer.
    state.counters["us_per_transfer"] =
        benchmark::Counter(static_cast<double>(done) / 1e6, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.counters["open"] = static_cast<double>(world->live());
    state.counters["setup_s"] = setup_s;
    state.counters["virtual_s"] = std::chrono::duration<double>(world->now()).count();
}
BENCHMARK(BM_transfer)->Arg(0)->Arg(1000)->Arg(5000)->Arg(10000)->Iterations(10000)->Unit(benchmark::kMicrosecond);

[[gnu::noinline]] int callgrind_run(std::size_t open, int passes) {
    const auto t0 = std::chrono::steady_clock::now();
    World world;
    if (auto err = world.open_held(open); !err.empty()) {
        std::fprintf(stderr, "stack_state: setup failed: %s\n", err.c_str());
        return 1;
    }
    const double setup_s = seconds_since(t0);
    // Under `valgrind --tool=callgrind --instr-atstart=no` the setup runs uninstrumented (much
    // faster) and only the measured phase (and the teardown) is counted; without that option this
    // changes nothing. Either way the (P - 0) difference is the same.
    CALLGRIND_START_INSTRUMENTATION;
    const std::uint64_t delivered0 = world.delivered();
    int failed = 0;
    for (int i = 0; i < passes; ++i)
        if (!world.transfer()) ++failed;
    const auto [dialogs_a, dialogs_b] = world.dialogs();
    std::printf("callgrind: open=%zu passes=%d failed=%d target_errors=%llu live=%zu dialogs(A,B)=%zu,%zu "
                "packets(measured)=%llu setup=%.1fs total=%.1fs\n",
                open, passes, failed, static_cast<unsigned long long>(world.target_errors()), world.live(), dialogs_a,
                dialogs_b, static_cast<unsigned long long>(world.delivered() - delivered0), setup_s,
                seconds_since(t0));
    if (passes > 0)
        std::printf("instructions per transfer = (Ir of this run - Ir of the same command with --passes=0) / %d\n",
                    passes);
    return failed == 0 && world.target_errors() == 0 ? 0 : 1;
}

bool parse_number(const char* text, long max, long& out) {
    char* endp = nullptr;
    const long v = std::strtol(text, &endp, 10);
    if (endp == text || *endp != '\0' || v < 0 || v > max) return false;
    out = v;
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    long passes = kDefaultPasses;
    long open = 0;
    bool callgrind = false;
    std::vector<char*> rest{argv[0]};
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--callgrind") {
            callgrind = true;
        } else if (a.starts_with("--passes=")) {
            if (!parse_number(argv[i] + 9, 100000000, passes)) {
                std::fprintf(stderr, "stack_state: --passes needs a number >= 0\n");
                return 2;
            }
        } else if (a.starts_with("--open=")) {
            if (!parse_number(argv[i] + 7, 10000000, open)) {
                std::fprintf(stderr, "stack_state: --open needs a number >= 0\n");
                return 2;
            }
        } else {
            if (a == "--help" || a == "-h")
                std::printf("bench/stack_state options (besides Google Benchmark's --benchmark_*):\n"
                            "  --callgrind   no benchmark: open N held transfers, then P measured ones\n"
                            "  --open=N      held transfers for --callgrind (default 0)\n"
                            "  --passes=P    measured transfers for --callgrind (default %d; 0 = baseline)\n\n",
                            kDefaultPasses);
            rest.push_back(argv[i]);
        }
    }
    if (callgrind) return callgrind_run(static_cast<std::size_t>(open), static_cast<int>(passes));
    int rest_argc = static_cast<int>(rest.size());
    benchmark::Initialize(&rest_argc, rest.data());
    if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 2;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
