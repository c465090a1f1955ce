// Parse/print benchmark: referkit against libosip2, sofia-sip and libre (Google Benchmark).
//
// Build and run (Release, preset `bench`):
//   cmake --preset bench && cmake --build --preset bench -j1 && build/bench/bench/parse
//
// Corpus: bench/corpus/*.sip (default compiled in as REFERKIT_BENCH_CORPUS; --corpus=DIR overrides).
// Files 01_..06_ are the typical transfer mix, the others the tricky-but-valid set.
//
// Benchmarks (one iteration = one pass over the set; items = messages, so items/s = msg/s):
//   BM_parse/<lib>          mix 01-06: parse from raw bytes and fold the same fields as the peers
//                           (see bench/peers/peers.hpp) into a checksum
//   BM_parse_tricky/<lib>   the same over 07-11; a library is skipped on a message it rejects,
//                           and its label says which
//   BM_print/<lib>          mix, messages parsed once; each iteration prints all of them again
//   BM_print_tricky/<lib>   the same over 07-11
// <lib> = referkit, osip, sofia, libre (libre has no printer: no BM_print*/libre).
//
// Before running, the referkit checksum of every mix message must equal each peer's checksum
// (exit 1 otherwise, naming the field that differs). After the run a summary gives msg/s on the
// mix and the ratio to sofia-sip measured in the same run (stdout; stderr when
// --benchmark_format is json or csv, so that the machine-readable output stays clean).
//
// Callgrind (instructions per message; no Google Benchmark involved):
//   B=build/bench/bench/parse
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.parse.base $B --callgrind-baseline
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.parse      $B --callgrind
//   -> instructions per message = (Ir(--callgrind) - Ir(--callgrind-baseline)) / (6 * 2000)
//   (Ir = the "Collected :" line valgrind prints, or "PROGRAM TOTALS" of callgrind_annotate.)
//   Printing: the same with --callgrind-print and --callgrind-print-baseline.
//   Peers (parse only, for an instruction-count comparison): --callgrind-peer=osip|sofia|libre,
//   baseline: the same command with --passes=0.
//   --passes=N changes the 2000 passes (then divide by 6 * N); --passes=0 is the baseline of any mode.
//   Hot spots: valgrind --tool=callgrind --dump-instr=no --callgrind-out-file=/tmp/cg.parse $B --callgrind
//              callgrind_annotate --inclusive=no /tmp/cg.parse | head -40
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parse_corpus.hpp"
#include "peers.hpp"
#include "referkit/core/message.hpp"
#include "referkit/core/params.hpp"
#include "referkit/core/writer.hpp"

#ifndef REFERKIT_BENCH_CORPUS
#define REFERKIT_BENCH_CORPUS "bench/corpus"
#endif

namespace {

using referkit::bench::mix;
using referkit::bench::PeerMessage;
using referkit::bench::PeerResult;
using referkit::bench::Corpus;
using referkit::bench::Sample;
using referkit::bench::Field;
using referkit::bench::in_mix;
using referkit::bench::load_corpus;
using referkit::bench::referkit_fold;
using referkit::bench::referkit_parse;
using referkit::bench::referkit_fields;
using referkit::bench::checksum_of;
using referkit::bench::explain_mismatch;

constexpr int kDefaultPasses = 2000;

// Where the checksum report, notes and summary go (stderr with --benchmark_format=json/csv).
std::FILE* g_text = stdout;

// --- peers ---------------------------------------------------------------------------------

struct Peer {
    const char* id;       // benchmark name suffix
    const char* display;  // for the summary
    void (*init)();
    PeerResult (*parse)(std::string_view);
    PeerMessage* (*keep)(std::string_view);  // nullptr: no printer
};

const Peer kPeers[] = {
    {"osip", "libosip2", referkit::bench::osip_init, referkit::bench::osip_parse, referkit::bench::osip_keep},
    {"sofia", "sofia-sip", referkit::bench::sofia_init, referkit::bench::sofia_parse, referkit::bench::sofia_keep},
    {"libre", "libre", referkit::bench::re_init, referkit::bench::re_parse, nullptr},  // re_keep always fails
};

// --- sanity check --------------------------------------------------------------------------

// Every mix message: referkit's checksum equals every peer's; referkit's printed text parses back
// to the same checksum. Tricky messages: reported, never fatal. Returns false on a mix failure.
bool sanity_check(const Corpus& corpus) {
    bool ok = true;
    std::fprintf(g_text, "Checksum check (referkit vs each peer; fields: see bench/peers/peers.hpp)\n");
    for (const Sample& s : corpus.all) {
        const bool required = in_mix(s.name);
        std::fprintf(g_text, "  %-26s", s.name.c_str());
        auto m = referkit::Message::parse(s.bytes);
        if (!m) {
            std::fprintf(g_text, " referkit FAILS: %s\n", m.error().describe().c_str());
            ok = ok && !required;
            continue;
        }
        const auto ours = referkit_fold(*m);
        if (!ours) {
            std::fprintf(g_text, " referkit cannot parse Refer-To/Event/Subscription-State\n");
            ok = ok && !required;
            continue;
        }
        // Round trip: the printed message must fold to the same checksum.
        const std::string printed = referkit::print(*m);
        const PeerResult again = referkit_parse(printed);
        const bool round_trip = again.ok && again.checksum == *ours;
        std::fprintf(g_text, " referkit %016llx%s", static_cast<unsigned long long>(*ours), round_trip ? "" : " (PRINT ROUND TRIP DIFFERS)");
        if (!round_trip && required) ok = false;

        std::string notes;
        for (const Peer& p : kPeers) {
            const PeerResult r = p.parse(s.bytes);
            if (!r.ok) {
                std::fprintf(g_text, "  %s: rejects", p.id);
                if (required) {
                    notes += "    " + std::string(p.display) + " cannot parse a mix message\n";
                    ok = false;
                }
            } else if (r.checksum == *ours) {
                std::fprintf(g_text, "  %s: same", p.id);
            } else {
                std::fprintf(g_text, "  %s: DIFFERS", p.id);
                notes += "    " + std::string(p.display) + ": " + explain_mismatch(referkit_fields(*m), r.checksum) + "\n";
                if (required) ok = false;
            }
        }
        std::fprintf(g_text, "%s\n%s", required ? "" : "  (tricky: informative)", notes.c_str());
    }
    std::fprintf(g_text, ok ? "Checksums agree on the mix.\n\n" : "Checksum check FAILED on the mix (see above).\n");
    return ok;
}

// --- benchmarks ----------------------------------------------------------------------------

std::string set_label(std::size_t used, const std::vector<std::string>& skipped, const char* why) {
    std::string label = std::to_string(used) + " msgs";
    if (!skipped.empty()) {
        label += "; skipped";
        for (const auto& n : skipped) label += " " + n;
        label += why;
    }
    return label;
}

std::int64_t bytes_of(const std::vector<const Sample*>& set) {
    std::int64_t n = 0;
    for (const Sample* s : set) n += static_cast<std::int64_t>(s->bytes.size());
    return n;
}

void bm_parse_referkit(benchmark::State& st, std::vector<const Sample*> set, std::string label) {
    std::uint64_t sum = 0;
    for (auto _ : st) {
        for (const Sample* s : set) {
            auto m = referkit::Message::parse(std::string_view(s->bytes));
            if (!m) {
                st.SkipWithError("referkit rejected a message");
                break;
            }
            sum += referkit_fold(*m).value_or(0);
        }
        benchmark::DoNotOptimize(sum);
    }
    st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(set.size()));
    st.SetBytesProcessed(st.iterations() * bytes_of(set));
    st.SetLabel(label);
}

void bm_parse_peer(benchmark::State& st, const Peer* peer, std::vector<const Sample*> set, std::string label) {
    std::uint64_t sum = 0;
    for (auto _ : st) {
        for (const Sample* s : set) {
            const PeerResult r = peer->parse(s->bytes);
            if (!r.ok) {
                st.SkipWithError("peer rejected a message");
                break;
            }
            sum += r.checksum;
        }
        benchmark::DoNotOptimize(sum);
    }
    st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(set.size()));
    st.SetBytesProcessed(st.iterations() * bytes_of(set));
    st.SetLabel(label);
}

// Messages parsed once (shared by the print benchmarks; alive for the whole run).
struct Parsed {
    std::vector<referkit::Message> referkit;
    std::vector<std::unique_ptr<PeerMessage>> peer;
};

void bm_print_referkit(benchmark::State& st, const std::vector<referkit::Message>* msgs, std::string label) {
    std::string out;
    out.reserve(4096);
    std::int64_t bytes = 0;
    for (auto _ : st) {
        for (const referkit::Message& m : *msgs) {
            out.clear();
            referkit::print(m, out);
            benchmark::DoNotOptimize(out.data());
            bytes += static_cast<std::int64_t>(out.size());
        }
        benchmark::ClobberMemory();
    }
    st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(msgs->size()));
    st.SetBytesProcessed(bytes);
    st.SetLabel(label);
}

void bm_print_peer(benchmark::State& st, const std::vector<std::unique_ptr<PeerMessage>>* msgs, std::string label) {
    std::string out;
    out.reserve(4096);
    std::int64_t bytes = 0;
    for (auto _ : st) {
        for (const auto& m : *msgs) {
            const std::size_t n = m->print(out);
            if (n == 0) {
                st.SkipWithError("peer failed to print a message");
                break;
            }
            benchmark::DoNotOptimize(out.data());
            bytes += static_cast<std::int64_t>(n);
        }
        benchmark::ClobberMemory();
    }
    st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(msgs->size()));
    st.SetBytesProcessed(bytes);
    st.SetLabel(label);
}

// Keeps the subset a library parses; names the others.
template <class Accept>
std::vector<const Sample*> accepted(const std::vector<const Sample*>& set, std::vector<std::string>& skipped, Accept&& ok) {
    std::vector<const Sample*> used;
    for (const Sample* s : set) {
        if (ok(*s)) used.push_back(s);
        else skipped.push_back(s->name);
    }
    return used;
}

// Owns everything the registered benchmarks point to.
struct Registry {
    std::vector<std::unique_ptr<Parsed>> parsed;
};

void register_set(Registry& reg, const char* suffix, const std::vector<const Sample*>& set, bool is_mix) {
    const char* why = " (rejected by this library)";
    // Parsing.
    {
        std::vector<std::string> skipped;
        auto used = accepted(set, skipped, [](const Sample& s) { return referkit_parse(s.bytes).ok; });
        if (!used.empty())
            benchmark::RegisterBenchmark((std::string("BM_parse") + suffix + "/referkit").c_str(), bm_parse_referkit, used,
                                         set_label(used.size(), skipped, why));
    }
    for (const Peer& p : kPeers) {
        std::vector<std::string> skipped;
        auto used = accepted(set, skipped, [&p](const Sample& s) { return p.parse(s.bytes).ok; });
        if (is_mix && !skipped.empty()) continue;  // cannot happen after sanity_check
        if (!used.empty())
            benchmark::RegisterBenchmark((std::string("BM_parse") + suffix + "/" + p.id).c_str(), bm_parse_peer, &p, used,
                                         set_label(used.size(), skipped, why));
    }
    // Printing.
    {
        auto& pr = reg.parsed.emplace_back(std::make_unique<Parsed>());
        std::vector<std::string> skipped;
        for (const Sample* s : set) {
            auto m = referkit::Message::parse(s->bytes);
            if (m) pr->referkit.push_back(std::move(*m));
            else skipped.push_back(s->name);
        }
        if (!pr->referkit.empty())
            benchmark::RegisterBenchmark((std::string("BM_print") + suffix + "/referkit").c_str(), bm_print_referkit,
                                         &pr->referkit, set_label(pr->referkit.size(), skipped, why));
    }
    for (const Peer& p : kPeers) {
        if (p.keep == nullptr) continue;  // libre: no printer
        auto& pr = reg.parsed.emplace_back(std::make_unique<Parsed>());
        std::vector<std::string> skipped;
        std::string scratch;
        for (const Sample* s : set) {
            std::unique_ptr<PeerMessage> kept{p.keep(s->bytes)};
            if (kept && kept->print(scratch) > 0) pr->peer.push_back(std::move(kept));
            else skipped.push_back(s->name);
        }
        if (is_mix && !skipped.empty()) {
            std::fprintf(g_text, "note: %s cannot print every mix message; BM_print/%s not run\n", p.display, p.id);
            continue;
        }
        if (!pr->peer.empty())
            benchmark::RegisterBenchmark((std::string("BM_print") + suffix + "/" + p.id).c_str(), bm_print_peer, &pr->peer,
                                         set_label(pr->peer.size(), skipped, why));
    }
}

// --- results and summary -------------------------------------------------------------------

// Forwards to the usual display reporter and records items_per_second per benchmark name
// (the median when --benchmark_repetitions gives aggregates).
class RecordingReporter final : public benchmark::BenchmarkReporter {
public:
    explicit RecordingReporter(benchmark::BenchmarkReporter* inner) : inner_(inner) {}

    bool ReportContext(const Context& context) override { return inner_->ReportContext(context); }
    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& r : runs) record(r);
        inner_->ReportRuns(runs);
    }
    void Finalize() override { inner_->Finalize(); }

    struct Result {
        double rate = 0;
        std::string label;
        bool median = false;
    };
    [[nodiscard]] const Result* find(const std::string& name) const {
        auto it = results_.find(name);
        return it == results_.end() ? nullptr : &it->second;
    }

private:
    void record(const Run& r) {
        if (r.error_occurred) return;
        const bool median = r.run_type == Run::RT_Aggregate;
        if (median && r.aggregate_name != "median") return;
        auto c = r.counters.find("items_per_second");
        if (c == r.counters.end()) return;
        Result& slot = results_[r.run_name.function_name];
        if (slot.median && !median) return;
        slot = {c->second.value, r.report_label, median};
    }

    benchmark::BenchmarkReporter* inner_;
    std::map<std::string, Result> results_;
};

std::string format_rate(double per_s) {
    char buf[32];
    if (per_s >= 1e6) std::snprintf(buf, sizeof buf, "%.2f M", per_s / 1e6);
    else std::snprintf(buf, sizeof buf, "%.0f k", per_s / 1e3);
    return buf;
}

void print_summary(std::FILE* out, const RecordingReporter& rec) {
    struct Lib { const char* id; const char* display; };
    const Lib libs[] = {{"referkit", "referkit"}, {"osip", "libosip2"}, {"sofia", "sofia-sip"}, {"libre", "libre"}};
    const auto rate = [&rec](const std::string& name) -> double {
        const auto* r = rec.find(name);
        return r != nullptr ? r->rate : 0.0;
    };

    std::fprintf(out, "\n== Summary: messages/s (CPU time), ratio to sofia-sip measured in this run ==\n");
    for (const char* kind : {"parse", "print"}) {
        for (const char* set : {"", "_tricky"}) {
            const std::string family = std::string("BM_") + kind + set;
            std::fprintf(out, "%s, %s:\n", kind, *set ? "tricky set 07-11" : "mix 01-06");
            const double sofia = rate(family + "/sofia");
            for (const Lib& lib : libs) {
                const std::string name = family + "/" + lib.id;
                const auto* r = rec.find(name);
                if (r == nullptr) {
                    const bool no_printer = std::string(kind) == "print" && std::string(lib.id) == "libre";
                    std::fprintf(out, "  %-10s %s\n", lib.display, no_printer ? "-  (no printer for a parsed message)" : "not run");
                    continue;
                }
                std::fprintf(out, "  %-10s %9s msg/s", lib.display, format_rate(r->rate).c_str());
                if (sofia > 0) std::fprintf(out, "  %5.2fx sofia-sip", r->rate / sofia);
                if (*set && r->label.find("skipped") != std::string::npos) std::fprintf(out, "   [%s]", r->label.c_str());
                std::fprintf(out, "\n");
            }
        }
    }

    std::fprintf(out, "targets, mix:\n");
    const struct { const char* kind; double target; } targets[] = {{"parse", 3.6}, {"print", 4.0}};
    for (const auto& t : targets) {
        const double ours = rate(std::string("BM_") + t.kind + "/referkit");
        const double sofia = rate(std::string("BM_") + t.kind + "/sofia");
        if (ours <= 0 || sofia <= 0) {
            std::fprintf(out, "  %s >= %.1fx sofia-sip: not measured\n", t.kind, t.target);
            continue;
        }
        const double ratio = ours / sofia;
        std::fprintf(out, "  %s >= %.1fx sofia-sip: %.2fx  %s\n", t.kind, t.target, ratio, ratio >= t.target ? "PASS" : "BELOW");
    }
    std::fprintf(out,
                 "reference (bench-corpus README, this machine class, mix): parse PJSIP 689 k, sofia-sip 379 k, "
                 "libosip2 231 k, libre 141 k;\n  print PJSIP 2.69 M, sofia-sip 1.11 M, libosip2 376 k msg/s\n");
}

// --- callgrind mode ------------------------------------------------------------------------

[[gnu::noinline]] std::uint64_t callgrind_parse_passes(const std::vector<const Sample*>& set, int passes) {
    std::uint64_t sum = 0;
    for (int i = 0; i < passes; ++i) {
        for (const Sample* s : set) {
            auto m = referkit::Message::parse(std::string_view(s->bytes));
            if (!m) return 0;
            sum += referkit_fold(*m).value_or(0);
        }
    }
    return sum;
}

[[gnu::noinline]] std::uint64_t callgrind_peer_passes(const Peer& peer, const std::vector<const Sample*>& set, int passes) {
    std::uint64_t sum = 0;
    for (int i = 0; i < passes; ++i) {
        for (const Sample* s : set) {
            const PeerResult r = peer.parse(s->bytes);
            if (!r.ok) return 0;
            sum += r.checksum;
        }
    }
    return sum;
}

[[gnu::noinline]] std::uint64_t callgrind_print_passes(const std::vector<referkit::Message>& msgs, int passes) {
    std::string out;
    out.reserve(4096);
    std::uint64_t sum = 0;
    for (int i = 0; i < passes; ++i) {
        for (const referkit::Message& m : msgs) {
            out.clear();
            referkit::print(m, out);
            sum += out.size();
        }
    }
    return sum;
}

struct CallgrindRun {
    enum class What { none, parse, print } what = What::none;
    const Peer* peer = nullptr;  // parse with a peer instead of referkit
    bool baseline = false;       // 0 passes: everything but the measured loop
};

int run_callgrind(const Corpus& corpus, const CallgrindRun& run, int passes) {
    const int n = run.baseline ? 0 : passes;
    const long long messages = static_cast<long long>(n) * static_cast<long long>(corpus.mix.size());
    std::uint64_t sum = 0;
    std::string what;
    if (run.what == CallgrindRun::What::parse && run.peer != nullptr) {
        what = std::string("parse with ") + run.peer->display;
        run.peer->init();
        sum = callgrind_peer_passes(*run.peer, corpus.mix, n);
    } else if (run.what == CallgrindRun::What::parse) {
        what = "parse with referkit";
        sum = callgrind_parse_passes(corpus.mix, n);
    } else {
        what = "print with referkit";
        std::vector<referkit::Message> msgs;
        for (const Sample* s : corpus.mix) {
            auto m = referkit::Message::parse(std::string_view(s->bytes));
            if (!m) {
                std::fprintf(stderr, "parse: referkit rejected %s\n", s->name.c_str());
                return 1;
            }
            msgs.push_back(std::move(*m));
        }
        sum = callgrind_print_passes(msgs, n);
    }
    if (n > 0 && sum == 0) {
        std::fprintf(stderr, "parse: a mix message was rejected (%s)\n", what.c_str());
        return 1;
    }
    std::printf("callgrind, %s%s: %d passes x %zu messages = %lld messages (checksum %016llx)\n", what.c_str(),
                run.baseline ? " (baseline)" : "", n, corpus.mix.size(), messages, static_cast<unsigned long long>(sum));
    if (n > 0)
        std::printf("instructions per message = (Ir of this run - Ir of the same command with --passes=0) / %lld\n", messages);
    return 0;
}

// --- main ----------------------------------------------------------------------------------

void usage() {
    std::printf(
        "bench/parse options (besides Google Benchmark's --benchmark_*):\n"
        "  --corpus=DIR                 corpus directory (default %s)\n"
        "  --callgrind                  no benchmark: N passes of referkit parsing the mix (for valgrind)\n"
        "  --callgrind-baseline         the same with 0 passes (load only)\n"
        "  --callgrind-print            N passes of referkit printing the mix (parsed once)\n"
        "  --callgrind-print-baseline   the same with 0 passes (load and parse once)\n"
        "  --callgrind-peer=LIB         N passes of LIB (osip, sofia, libre) parsing the mix\n"
        "  --passes=N                   N for the callgrind modes (default %d; 0 = baseline of any mode)\n"
        "  --interleaved-rounds=N       after the run, N alternating referkit/sofia-sip rounds (default 41; 0 = off)\n\n",
        REFERKIT_BENCH_CORPUS, kDefaultPasses);
}

}  // namespace

// --- interleaved ratio -------------------------------------------------------------------
// Google Benchmark runs one library after another, so a change of machine load between them moves
// the ratio. This measures referkit and sofia-sip alternately in short rounds and reports the
// median of the per-round ratios: both sides of every ratio saw the same load.
template <class F>
double seconds_for(int passes, const std::vector<const Sample*>& set, F&& one) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < passes; ++i)
        for (const Sample* s : set) one(*s);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

void interleaved_ratios(std::FILE* out, const Corpus& corpus, int rounds) {
    const Peer* sofia = nullptr;
    for (const Peer& p : kPeers)
        if (std::string_view(p.id) == "sofia") sofia = &p;
    Parsed parsed;
    for (const Sample* s : corpus.mix) {
        if (auto m = referkit::Message::parse(s->bytes)) parsed.referkit.push_back(std::move(*m));
        parsed.peer.emplace_back(sofia->keep(s->bytes));
    }
    std::uint64_t sink = 0;
    std::vector<double> parse_ratio, print_ratio;
    std::string text;
    for (int r = 0; r < rounds; ++r) {
        const double ours = seconds_for(200, corpus.mix, [&](const Sample& s) {
            auto m = referkit::Message::parse(std::string_view(s.bytes));
            sink += m ? referkit_fold(*m).value_or(0) : 0;
        });
        const double theirs = seconds_for(200, corpus.mix, [&](const Sample& s) { sink += sofia->parse(s.bytes).checksum; });
        parse_ratio.push_back(theirs / ours);
        double print_ours = 0, print_theirs = 0;
        {
            const auto t0 = std::chrono::steady_clock::now();
            for (int i = 0; i < 500; ++i)
                for (const referkit::Message& m : parsed.referkit) {
                    text.clear();
                    referkit::print(m, text);
                    sink += text.size();
                }
            print_ours = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        }
        {
            const auto t0 = std::chrono::steady_clock::now();
            for (int i = 0; i < 500; ++i)
                for (std::size_t k = 0; k < parsed.referkit.size(); ++k) sink += parsed.peer[k] ? parsed.peer[k]->print(text) : 0;
            print_theirs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        }
        print_ratio.push_back(print_theirs / print_ours);
    }
    benchmark::DoNotOptimize(sink);
    std::fprintf(out, "interleaved (median of %d alternating rounds, mix 01-06):\n", rounds);
    std::fprintf(out, "  parse: referkit %.2fx sofia-sip  (target >= 3.6x: %s)\n", median(parse_ratio),
                 median(parse_ratio) >= 3.6 ? "PASS" : "BELOW");
    std::fprintf(out, "  print: referkit %.2fx sofia-sip  (target >= 4.0x: %s)\n", median(print_ratio),
                 median(print_ratio) >= 4.0 ? "PASS" : "BELOW");
}

int main(int argc, char** argv) {
    std::string corpus_dir = REFERKIT_BENCH_CORPUS;
    CallgrindRun callgrind;
    int passes = kDefaultPasses;
    bool machine_format = false;
    int interleaved_rounds = 41;

    // Our flags first; everything else goes to Google Benchmark.
    std::vector<char*> rest{argv[0]};
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a.starts_with("--corpus=")) {
            corpus_dir = std::string(a.substr(9));
        } else if (a == "--callgrind" || a == "--callgrind-baseline") {
            callgrind = {CallgrindRun::What::parse, nullptr, a.ends_with("-baseline")};
        } else if (a == "--callgrind-print" || a == "--callgrind-print-baseline") {
            callgrind = {CallgrindRun::What::print, nullptr, a.ends_with("-baseline")};
        } else if (a.starts_with("--callgrind-peer=")) {
            const std::string_view name = a.substr(17);
            callgrind = {CallgrindRun::What::parse, nullptr, false};
            for (const Peer& p : kPeers)
                if (name == p.id) callgrind.peer = &p;
            if (callgrind.peer == nullptr) {
                std::fprintf(stderr, "parse: --callgrind-peer takes osip, sofia or libre\n");
                return 2;
            }
        } else if (a.starts_with("--interleaved-rounds=")) {
            interleaved_rounds = std::atoi(argv[i] + 21);
        } else if (a.starts_with("--passes=")) {
            char* endp = nullptr;
            const long v = std::strtol(argv[i] + 9, &endp, 10);
            if (endp == argv[i] + 9 || *endp != '\0' || v < 0 || v > 100000000) {
                std::fprintf(stderr, "parse: --passes needs a number >= 0\n");
                return 2;
            }
            passes = static_cast<int>(v);
        } else {
            if (a == "--help" || a == "-h") usage();
            if (a.starts_with("--benchmark_format=") && a != "--benchmark_format=console") machine_format = true;
            rest.push_back(argv[i]);
        }
    }

    Corpus corpus;
    if (!load_corpus(corpus_dir, corpus)) return 2;
    if (callgrind.what != CallgrindRun::What::none) return run_callgrind(corpus, callgrind, passes);

    int bargc = static_cast<int>(rest.size());
    rest.push_back(nullptr);
    benchmark::Initialize(&bargc, rest.data());
    if (benchmark::ReportUnrecognizedArguments(bargc, rest.data())) return 2;

    for (const Peer& p : kPeers) p.init();
    // Our text goes to stdout, or to stderr when Google Benchmark writes JSON/CSV to stdout.
    g_text = machine_format ? stderr : stdout;
    if (!sanity_check(corpus)) return 1;

    std::fprintf(g_text, "note: libre has no printer for a parsed message: no BM_print*/libre\n");
    Registry registry;
    register_set(registry, "", corpus.mix, true);
    if (!corpus.tricky.empty()) register_set(registry, "_tricky", corpus.tricky, false);
    std::fflush(g_text);

    RecordingReporter reporter(benchmark::CreateDefaultDisplayReporter());
    benchmark::RunSpecifiedBenchmarks(&reporter);
    print_summary(g_text, reporter);
    if (interleaved_rounds > 0) interleaved_ratios(g_text, corpus, interleaved_rounds);
    benchmark::Shutdown();
    return 0;
}
