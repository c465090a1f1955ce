// RFC 4475 torture messages, RFC 5118 IPv6 messages and sipfrag vectors, each a named test whose
// expectation comes from the vector folder's expect.tsv (what the RFC says a UA should do). Every
// vector is also fed through the stream framer split at every byte position.
#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "referkit/core/framer.hpp"
#include "referkit/core/message.hpp"
#include "referkit/core/sipfrag.hpp"
#include "referkit/core/validate.hpp"
#include "referkit/core/writer.hpp"

namespace referkit {
namespace {

const std::string vectors = REFERKIT_VECTORS_DIR;

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Expect {
    std::string file, verdict, status, where, note;
};
void PrintTo(const Expect& e, std::ostream* os) { *os << e.file; }

std::vector<Expect> load(const std::string& dir) {
    std::vector<Expect> out;
    std::istringstream in(read_file(vectors + "/" + dir + "/expect.tsv"));
    std::string line;
    std::getline(in, line);  // column names
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        std::vector<std::string> cols;
        std::size_t pos = 0;
        while (true) {
            std::size_t tab = line.find('\t', pos);
            cols.push_back(line.substr(pos, tab - pos));
            if (tab == std::string::npos) break;
            pos = tab + 1;
        }
        cols.resize(6);
        if (dir == "sipfrag") out.push_back({cols[0], cols[1], cols[2], "", cols[3]});
        else out.push_back({cols[0], cols[2], cols[3], cols[4], cols[5]});
    }
    return out;
}

std::string test_name(const testing::TestParamInfo<Expect>& info) {
    std::string n = info.param.file.substr(0, info.param.file.rfind('.'));
    for (char& c : n)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return n;
}

// The UA the vectors are judged as: a user agent that implements what referkit implements.
constexpr std::array ua_methods{Method::invite, Method::ack,    Method::bye,  Method::cancel, Method::options,
                                Method::refer,  Method::notify, Method::subscribe, Method::info, Method::message};
// RFC 4475's REGISTER cases speak of a registrar ("This REGISTER should succeed"); those are judged
// with REGISTER allowed and the registrar's To check. regaut01 speaks to endpoints (405).
constexpr std::array registrar_methods{Method::register_, Method::options};
constexpr std::array<std::string_view, 4> extensions{"replaces", "norefersub", "tdialog", "path"};
constexpr std::array<std::string_view, 3> content_types{"application/sdp", "message/sipfrag", "multipart/mixed"};
constexpr std::array<std::string_view, 1> answer_types{"application/sdp"};
bool judged_as_registrar(const Message& m, const std::string& file) {
    return m.method() == Method::register_ && file != "regaut01.dat";
}

struct Outcome {
    bool accepted = false;
    int status = 0;              // 0 = accepted, -1 = dropped (responses)
    bool from_parser = false;    // the error came from Message::parse
    std::uint32_t offset = 0;
    std::string what;
};

Outcome judge(const Expect& e, const std::string& bytes) {
    Outcome o;
    auto m = Message::parse(bytes);
    if (!m) {
        bool response = bytes.rfind("SIP/", 0) == 0;
        o.status = response ? -1 : m.error().status;
        o.from_parser = true;
        o.offset = m.error().offset;
        o.what = m.error().describe();
        return o;
    }
    if (m->is_response()) {
        if (auto err = validate_response(*m)) {
            o.status = -1;
            o.offset = err->offset;
            o.what = err->describe();
            return o;
        }
        o.accepted = true;
        return o;
    }
    UasCapabilities caps{.methods = ua_methods, .extensions = extensions, .content_types = content_types, .answer_types = answer_types};
    if (judged_as_registrar(*m, e.file)) caps.methods = registrar_methods;
    if (auto r = validate_request(*m, caps)) {
        o.status = r->error.status;
        o.offset = r->error.offset;
        o.what = r->error.describe();
        return o;
    }
    // A registrar needs a SIP or SIPS AOR in To (RFC 3261 §10.3 step 5, RFC 4475 §3.3.4).
    if (judged_as_registrar(*m, e.file) && m->to().uri.scheme != Scheme::sip && m->to().uri.scheme != Scheme::sips) {
        o.status = 400;
        o.offset = m->offset_of(m->to().uri.text);
        o.what = "registrar: To must hold a SIP or SIPS URI";
        return o;
    }
    o.accepted = true;
    return o;
}

// Name of the header whose line holds offset (compact forms resolved), "" for the start line.
std::string header_at(const std::string& bytes, std::uint32_t offset) {
    std::size_t start = bytes.rfind('\n', offset == 0 ? 0 : offset - 1);
    start = start == std::string::npos ? 0 : start + 1;
    // A folded line belongs to the header above it.
    while (start > 0 && (bytes[start] == ' ' || bytes[start] == '\t')) {
        std::size_t prev = bytes.rfind('\n', start - 2);
        start = prev == std::string::npos ? 0 : prev + 1;
    }
    std::size_t colon = bytes.find(':', start);
    std::size_t nl = bytes.find('\n', start);
    if (colon == std::string::npos || colon > nl) return "";
    std::string name = bytes.substr(start, colon - start);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
    HeaderId id = lookup_header(name);
    return id == HeaderId::other ? name : std::string(canonical_name(id));
}

// Every frame and the error (if any) the framer yields for these chunks.
std::vector<std::string> frame_all(const std::string& bytes, const std::vector<std::size_t>& cuts) {
    StreamFramer f(StreamRole::server);
    std::vector<std::string> out;
    std::size_t prev = 0;
    auto drain = [&]() {
        while (true) {
            auto r = f.next();
            if (!r) { out.push_back("error:" + std::string(to_string(r.error().code)) + "@" + std::to_string(r.error().offset)); return false; }
            if (!*r) return true;
            out.push_back((*r)->kind == Frame::Kind::message ? std::string((*r)->bytes.view()) : "keepalive");
        }
    };
    for (std::size_t cut : cuts) {
        if (auto r = f.feed(std::string_view(bytes).substr(prev, cut - prev)); !r) { out.push_back("feed-error"); return out; }
        prev = cut;
        if (!drain()) return out;
    }
    if (auto r = f.feed(std::string_view(bytes).substr(prev)); !r) { out.push_back("feed-error"); return out; }
    if (drain()) out.push_back("pending:" + std::to_string(f.pending()));
    return out;
}

void grind(const std::string& bytes) {
    const auto whole = frame_all(bytes, {});
    for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
        auto split = frame_all(bytes, {cut});
        ASSERT_EQ(split, whole) << "framer result differs when split at byte " << cut;
    }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < bytes.size(); ++i) every.push_back(i);
    EXPECT_EQ(frame_all(bytes, every), whole) << "framer result differs when fed byte by byte";
}

class TortureTest : public testing::TestWithParam<Expect> {
protected:
    void check(const std::string& dir) {
        const Expect& e = GetParam();
        const std::string bytes = read_file(vectors + "/" + dir + "/" + e.file);
        ASSERT_FALSE(bytes.empty()) << e.file;
        SCOPED_TRACE(e.file + ": " + e.note);
        Outcome o = judge(e, bytes);
        if (e.verdict == "accept") {
            EXPECT_TRUE(o.accepted) << "rejected: " << o.what;
            auto m = Message::parse(bytes);
            ASSERT_TRUE(m);
            // Printing and re-parsing keeps every hot field.
            auto again = Message::parse(print(*m));
            ASSERT_TRUE(again) << again.error().describe();
            EXPECT_EQ(again->call_id(), m->call_id());
            EXPECT_EQ(again->cseq().number, m->cseq().number);
            EXPECT_EQ(again->from().tag, m->from().tag);
            EXPECT_EQ(again->top_via().branch, m->top_via().branch);
            EXPECT_EQ(again->body(), m->body());
            // print() adds the Content-Length a datagram may omit.
            EXPECT_EQ(again->headers().size(), m->headers().size() + (m->find(HeaderId::content_length) ? 0 : 1));
        } else {
            ASSERT_EQ(e.verdict, "reject");
            ASSERT_FALSE(o.accepted) << "accepted, but the RFC says: " << e.note;
            if (e.status == "drop") EXPECT_EQ(o.status, -1) << o.what;
            else EXPECT_EQ(o.status, std::stoi(e.status)) << o.what;
            if (e.where == "parse") {
                EXPECT_TRUE(o.from_parser) << "expected the parser to refuse it, got: " << o.what;
            }
            if (e.where.rfind("header:", 0) == 0) {
                HeaderId want = lookup_header(e.where.substr(7));
                std::string want_name = want == HeaderId::other ? e.where.substr(7) : std::string(canonical_name(want));
                EXPECT_EQ(header_at(bytes, o.offset), want_name) << "error at the wrong place: " << o.what;
            }
        }
        grind(bytes);
    }
};

class Rfc4475 : public TortureTest {};
TEST_P(Rfc4475, AsTheRfcSays) { check("rfc4475"); }
INSTANTIATE_TEST_SUITE_P(Torture, Rfc4475, testing::ValuesIn(load("rfc4475")), test_name);

class Rfc5118 : public TortureTest {};
TEST_P(Rfc5118, AsTheRfcSays) { check("rfc5118"); }
INSTANTIATE_TEST_SUITE_P(Ipv6, Rfc5118, testing::ValuesIn(load("rfc5118")), test_name);

TEST(Rfc4475Corpus, HasAll49Messages) {
    EXPECT_EQ(load("rfc4475").size(), 49u);
    std::size_t dat = 0;
    for (const auto& entry : std::filesystem::directory_iterator(vectors + "/rfc4475"))
        dat += entry.path().extension() == ".dat";
    EXPECT_EQ(dat, 49u);
}

class Sipfrag : public testing::TestWithParam<Expect> {};
TEST_P(Sipfrag, AsRfc3420AndSpecReferSay) {
    const Expect& e = GetParam();
    const std::string bytes = read_file(vectors + "/sipfrag/" + e.file);
    SCOPED_TRACE(e.file + ": " + e.note);
    auto strict = parse_sipfrag(bytes, {}, SipfragMode::strict);
    auto tolerant = parse_sipfrag(bytes);
    if (e.verdict == "accept") {
        ASSERT_TRUE(strict) << strict.error().describe();
        ASSERT_TRUE(tolerant) << tolerant.error().describe();
        if (std::isdigit(static_cast<unsigned char>(e.status[0]))) {
            EXPECT_TRUE(strict->is_response);
            EXPECT_EQ(strict->status, std::stoi(e.status));
        } else {
            EXPECT_FALSE(strict->is_response);
            EXPECT_EQ(strict->method, e.status);
        }
        EXPECT_FALSE(tolerant->junk_offset);
    } else {
        ASSERT_EQ(e.verdict, "reject");
        EXPECT_FALSE(strict) << "strict mode accepted an invalid sipfrag";
        // The tolerant mode refuses only what has no usable start line; a sound start line with
        // invalid lines after it is accepted (the status is what a REFER needs) and they are
        // reported — as junk when a line is not a header at all.
        if (tolerant) {
            EXPECT_EQ(strict.error().code == ErrorCode::bad_sipfrag, tolerant->junk_offset.has_value()) << strict.error().describe();
        }
    }
}
INSTANTIATE_TEST_SUITE_P(Rfc3420, Sipfrag, testing::ValuesIn(load("sipfrag")), test_name);

}  // namespace
}  // namespace referkit
