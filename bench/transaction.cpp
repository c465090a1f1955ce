// Transaction-layer benchmark: transactions per second through two sans-I/O cores without I/O.
//
// Build and run (Release, preset `bench`):
//   cmake --preset bench && cmake --build --preset bench -j1 --target bench_transaction
//   build/bench/bench/transaction
//
// One transaction = a client TransactionLayer sends a non-INVITE request (MESSAGE, given as an
// OutgoingRequest: the layer writes it once with its Via and never parses it), the bytes go in
// memory to a server TransactionLayer (parse, match, new server transaction, event), its TU
// answers 200 (response built from the request, routed per §18.2.2), the bytes go back to the
// client (parse, match, event). Every received byte is parsed once.
//   BM_transaction/udp   virtual time advances 1 ms per transaction and on_timer runs, so the
//                        completed transactions expire on Timers K (5 s) and J (32 s): a steady
//                        state of ~5,000 client and ~32,000 server transactions
//   BM_transaction/tcp   reliable transport: both transactions end with the final response
//
// Callgrind (instructions per transaction; no Google Benchmark involved):
//   B=build/bench/bench/transaction
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.txn.base $B --callgrind --passes=0
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.txn      $B --callgrind
//   -> instructions per transaction = (Ir(--callgrind) - Ir(--passes=0)) / 20000
//   --callgrind-tcp: the same over TCP. --passes=N changes the 20000 transactions.
//   --bytes: the client hands the layer the request as bytes instead (send_request(string_view):
//   one parse of its own request), the only form the layer took before it took fields.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/transaction_layer.hpp"

namespace {

using referkit::Destination;
using referkit::Endpoint;
using referkit::EventKind;
using referkit::OutgoingRequest;
using referkit::ResponseSpec;
using referkit::Source;
using referkit::Time;
using referkit::TransactionLayer;
using referkit::TransactionOptions;
using referkit::Transport;

constexpr int kDefaultPasses = 20000;

const std::string kRequest =
    "MESSAGE sip:bob@192.0.2.2 SIP/2.0\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice\" <sip:alice@192.0.2.1>;tag=9fxced76sl\r\n"
    "To: <sip:bob@192.0.2.2>\r\n"
    "Call-ID: 3848276298220188511@192.0.2.1\r\n"
    "CSeq: 1 MESSAGE\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 5\r\n"
    "\r\n"
    "hello";

// The same request as fields.
OutgoingRequest request_fields() {
    return OutgoingRequest{.method = "MESSAGE",
                           .request_uri = "sip:bob@192.0.2.2",
                           .routes = {},
                           .max_forwards = 70,
                           .from = "\"Alice\" <sip:alice@192.0.2.1>;tag=9fxced76sl",
                           .to = "<sip:bob@192.0.2.2>",
                           .call_id = "3848276298220188511@192.0.2.1",
                           .cseq = 1,
                           .headers = {},
                           .content_type = "text/plain",
                           .body = "hello"};
}

TransactionOptions options(std::string sent_by, std::uint64_t seed) {
    TransactionOptions o;
    o.sent_by = std::move(sent_by);
    o.random = [s = seed]() mutable {  // xorshift: cheap, deterministic
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    };
    o.limits.max_transactions = 1u << 20;
    o.limits.max_transactions_per_source = 0;  // one peer sends everything
    return o;
}

// Two cores and the bytes between them.
class Pair {
public:
    Pair(Transport t, bool bytes)
        : transport_(t),
          bytes_(bytes),
          fields_(request_fields()),
          client_(options("192.0.2.1:5060", 0x9e3779b97f4a7c15ULL)),
          server_(options("192.0.2.2:5060", 0xbf58476d1ce4e5b9ULL)),
          to_server_{t, Endpoint{"192.0.2.2", 5060}, 0},
          from_client_{t, Endpoint{"192.0.2.1", 5060}, 1},
          from_server_{t, Endpoint{"192.0.2.2", 5060}, 1} {
        ok_.status = 200;
        ok_.to_tag = "a6c85cf";
    }

    // One complete transaction; returns the final status the client saw (0 on a failure).
    int transaction() {
        now_ += std::chrono::milliseconds(1);
        client_.on_timer(now_);
        server_.on_timer(now_);
        const bool sent = bytes_ ? client_.send_request(kRequest, to_server_, now_).has_value()
                                 : client_.send_request(fields_, to_server_, now_).has_value();
        if (!sent) return 0;
        int status = 0;
        while (auto t = client_.poll_transmit()) server_.receive(t->bytes, from_client_, now_);
        while (auto e = server_.poll_event())
            if (e->kind == EventKind::request) (void)server_.respond(e->id, ok_, now_);
        while (auto t = server_.poll_transmit()) client_.receive(t->bytes, from_server_, now_);
        while (auto e = client_.poll_event())
            if (e->kind == EventKind::response) status = e->message->status();
        return status;
    }
    [[nodiscard]] std::size_t open() const { return client_.transaction_count() + server_.transaction_count(); }

private:
    Transport transport_;
    bool bytes_;
    OutgoingRequest fields_;
    TransactionLayer client_, server_;
    Destination to_server_;
    Source from_client_, from_server_;
    ResponseSpec ok_;
    Time now_{};
};

void BM_transaction(benchmark::State& state, Transport t, bool bytes) {
    Pair pair(t, bytes);
    std::int64_t n = 0;
    for (auto _ : state) {
        const int status = pair.transaction();
        if (status != 200) {
            state.SkipWithError("a transaction did not end with 200");
            break;
        }
        ++n;
    }
    state.SetItemsProcessed(n);
    state.counters["open_transactions"] = static_cast<double>(pair.open());
}
BENCHMARK_CAPTURE(BM_transaction, udp, Transport::udp, false);
BENCHMARK_CAPTURE(BM_transaction, tcp, Transport::tcp, false);
BENCHMARK_CAPTURE(BM_transaction, udp_bytes, Transport::udp, true);

[[gnu::noinline]] int callgrind_run(Transport t, int passes, bool bytes) {
    Pair pair(t, bytes);
    for (int i = 0; i < passes; ++i)
        if (pair.transaction() != 200) return 1;
    std::printf("callgrind, %s%s: %d transactions (open at the end: %zu)\n", t == Transport::udp ? "udp" : "tcp",
                bytes ? " (request as bytes)" : "", passes, pair.open());
    if (passes > 0)
        std::printf("instructions per transaction = (Ir of this run - Ir of the same command with --passes=0) / %d\n",
                    passes);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    int passes = kDefaultPasses;
    int callgrind = 0;  // 0 = benchmark, 1 = udp, 2 = tcp
    bool bytes = false;
    std::vector<char*> rest{argv[0]};
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--callgrind") {
            callgrind = 1;
        } else if (a == "--callgrind-tcp") {
            callgrind = 2;
        } else if (a == "--bytes") {
            bytes = true;
        } else if (a.starts_with("--passes=")) {
            char* endp = nullptr;
            const long v = std::strtol(argv[i] + 9, &endp, 10);
            if (endp == argv[i] + 9 || *endp != '\0' || v < 0 || v > 100000000) {
                std::fprintf(stderr, "transaction: --passes needs a number >= 0\n");
                return 2;
            }
            passes = static_cast<int>(v);
        } else {
            if (a == "--help" || a == "-h")
                std::printf("bench/transaction options (besides Google Benchmark's --benchmark_*):\n"
                            "  --callgrind       no benchmark: N UDP transactions (for valgrind)\n"
                            "  --callgrind-tcp   the same over TCP\n"
                            "  --passes=N        N for the callgrind modes (default %d; 0 = baseline)\n"
                            "  --bytes           callgrind modes: the request as bytes (one parse of it)\n\n",
                            kDefaultPasses);
            rest.push_back(argv[i]);
        }
    }
    if (callgrind != 0) return callgrind_run(callgrind == 1 ? Transport::udp : Transport::tcp, passes, bytes);
    int rest_argc = static_cast<int>(rest.size());
    benchmark::Initialize(&rest_argc, rest.data());
    if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 2;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
