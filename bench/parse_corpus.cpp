// The corpus of bench/parse and referkit's side of its checksum (see parse_corpus.hpp).
#include "parse_corpus.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "referkit/core/params.hpp"

namespace referkit::bench {

bool in_mix(const std::string& name) {
    return name.size() >= 3 && name[0] == '0' && name[1] >= '1' && name[1] <= '6' && name[2] == '_';
}

bool load_corpus(const std::string& dir, Corpus& corpus) {
    std::vector<std::filesystem::path> files;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
        if (entry.is_regular_file() && entry.path().extension() == ".sip") files.push_back(entry.path());
    if (ec || files.empty()) {
        std::fprintf(stderr, "parse: no .sip files in %s\n", dir.c_str());
        return false;
    }
    std::sort(files.begin(), files.end());
    corpus.all.reserve(files.size());
    for (const auto& path : files) {
        std::ifstream in(path, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "parse: cannot read %s\n", path.c_str());
            return false;
        }
        Sample s;
        s.name = path.stem().string();
        s.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        corpus.all.push_back(std::move(s));
    }
    for (const Sample& s : corpus.all) (in_mix(s.name) ? corpus.mix : corpus.tricky).push_back(&s);
    if (corpus.mix.size() != 6) {
        std::fprintf(stderr, "parse: expected 6 mix messages (01_..06_) in %s, found %zu\n", dir.c_str(),
                     corpus.mix.size());
        return false;
    }
    return true;
}

// --- referkit's side of the checksum -------------------------------------------------------

// Calls f(field name, value) for the fields every adapter folds, in the adapters' order:
// method text or status code; Request-URI host; top Via host and branch; From tag; To tag;
// Call-ID; CSeq number and method; Refer-To URI host, Event package, Subscription-State value
// (when present). Optional values are skipped when empty, as the adapters skip absent ones.
// Returns false when Refer-To, Event or Subscription-State is present but malformed (the
// adapters count such a message as failed).
namespace {

template <class F>
bool for_each_field(const referkit::Message& m, F&& f) {
    auto opt = [&f](std::string_view name, std::string_view v) {
        if (!v.empty()) f(name, v);
    };
    if (m.is_request()) {
        f("method", m.method_text());
        opt("Request-URI host", m.request_uri().host);
    } else {
        f("status code", static_cast<std::uint64_t>(m.status()));
    }
    opt("top Via host", m.top_via().host);
    opt("top Via branch", m.top_via().branch);
    opt("From tag", m.from().tag);
    opt("To tag", m.to().tag);
    opt("Call-ID", m.call_id());
    f("CSeq number", static_cast<std::uint64_t>(m.cseq().number));
    f("CSeq method", m.cseq().method_text);

    const auto absent = [](const referkit::ParseError& e) { return e.code == referkit::ErrorCode::header_absent; };
    if (auto r = m.refer_to()) opt("Refer-To host", r->uri.host);
    else if (!absent(r.error())) return false;
    if (auto e = m.event()) opt("Event package", e->package);
    else if (!absent(e.error())) return false;
    if (auto s = m.subscription_state()) opt("Subscription-State value", s->value);
    else if (!absent(s.error())) return false;
    return true;
}

struct Mixer {
    std::uint64_t h = kSeed;
    void operator()(std::string_view, std::string_view v) noexcept { h = mix(h, v); }
    void operator()(std::string_view, std::uint64_t v) noexcept { h = mix(h, v); }
};

}  // namespace

std::optional<std::uint64_t> referkit_fold(const referkit::Message& m) {
    Mixer mixer;
    if (!for_each_field(m, mixer)) return std::nullopt;
    return mixer.h;
}

PeerResult referkit_parse(std::string_view raw) {
    auto m = referkit::Message::parse(raw);  // copies raw into a fresh SharedBuffer
    if (!m) return {};
    const auto sum = referkit_fold(*m);
    if (!sum) return {};
    return {true, *sum};
}

// A recorded field, for explaining a checksum mismatch.
std::vector<Field> referkit_fields(const referkit::Message& m) {
    struct Recorder {
        std::vector<Field>& out;
        void operator()(std::string_view n, std::string_view v) { out.push_back({std::string(n), false, std::string(v), 0}); }
        void operator()(std::string_view n, std::uint64_t v) { out.push_back({std::string(n), true, {}, v}); }
    };
    std::vector<Field> fields;
    (void)for_each_field(m, Recorder{fields});
    return fields;
}

std::uint64_t checksum_of(const std::vector<Field>& fields) {
    std::uint64_t h = kSeed;
    for (const Field& f : fields) h = f.is_number ? mix(h, f.number) : mix(h, f.text);
    return h;
}

namespace {
std::string lowered(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}
}  // namespace

// Finds a single-field change of referkit's fields that reproduces the peer's checksum and
// describes it; otherwise lists what referkit folded.
std::string explain_mismatch(const std::vector<Field>& fields, std::uint64_t peer_sum) {
    for (std::size_t i = 0; i < fields.size(); ++i) {
        std::vector<Field> v = fields;
        v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
        if (checksum_of(v) == peer_sum)
            return "field '" + fields[i].name + "': the peer does not fold it (referkit: \"" +
                   (fields[i].is_number ? std::to_string(fields[i].number) : fields[i].text) + "\")";
        if (fields[i].is_number) continue;
        const std::string& t = fields[i].text;
        const std::pair<const char*, std::string> variants[] = {
            {"lower case", lowered(t)},
            {"without quotes", referkit::unquote(t)},
            {"%-decoded", referkit::percent_decode(t)},
            {"without IPv6 brackets", t.size() >= 2 && t.front() == '[' && t.back() == ']' ? t.substr(1, t.size() - 2) : t},
            {"mapped to \"unknown\"", "unknown"},
        };
        for (const auto& [how, value] : variants) {
            if (value == t) continue;
            v = fields;
            v[i].text = value;
            if (checksum_of(v) == peer_sum)
                return "field '" + fields[i].name + "': referkit folds \"" + t + "\", the peer folds it " + how + " (\"" +
                       value + "\")";
        }
    }
    std::string out = "no single field explains it (the peer folds other fields or another order); referkit folded:";
    for (const Field& f : fields)
        out += "\n        " + f.name + " = " + (f.is_number ? std::to_string(f.number) : "\"" + f.text + "\"");
    return out;
}

}  // namespace referkit::bench
