// StreamFramer: RFC 3261 §18.3 framing by Content-Length on stream transports and RFC 5626
// §3.5.1 keep-alives.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/framer.hpp"
#include "referkit/core/message.hpp"
#include "test_support.hpp"

namespace referkit {
namespace {

using test::make_request;
using test::Ok;

constexpr std::string_view k_ping = "<ping>";
constexpr std::string_view k_pong = "<pong>";

// Frames as text: a message's bytes, or <ping> / <pong>.
struct Drained {
    std::vector<std::string> frames;
    std::optional<ParseError> error;
};

void drain(StreamFramer& f, Drained& out) {
    while (true) {
        auto r = f.next();
        if (!r) {
            out.error = r.error();
            return;
        }
        if (!*r) return;
        const Frame& fr = **r;
        if (fr.kind == Frame::Kind::ping) out.frames.emplace_back(k_ping);
        else if (fr.kind == Frame::Kind::pong) out.frames.emplace_back(k_pong);
        else out.frames.emplace_back(fr.bytes.view());
    }
}

Drained feed_all(StreamFramer& f, std::string_view bytes) {
    Drained d;
    auto r = f.feed(bytes);
    if (!r) {
        d.error = r.error();
        return d;
    }
    drain(f, d);
    return d;
}

std::string without_content_length(std::string text) {
    std::size_t cl = text.find("Content-Length");
    text.erase(cl, text.find("\r\n", cl) + 2 - cl);
    return text;
}

std::uint32_t end_of_headers(std::string_view text) { return static_cast<std::uint32_t>(text.find("\r\n\r\n") + 4); }

const std::string k_a = make_request("MESSAGE", "", "hello");
const std::string k_b = make_request("OPTIONS");
const std::string k_c = make_request("MESSAGE", "Content-Type: text/plain\r\n", "a\r\n\r\nb\n\nc");  // blank lines in the body

// Feeds the stream split in two at every byte (draining after each part) and expects the same frames.
void expect_same_frames_at_every_split(StreamRole role, std::string_view stream, const std::vector<std::string>& want) {
    for (std::size_t i = 0; i <= stream.size(); ++i) {
        StreamFramer f(role);
        Drained d;
        ASSERT_TRUE(f.feed(stream.substr(0, i)));
        drain(f, d);
        ASSERT_TRUE(f.feed(stream.substr(i)));
        drain(f, d);
        ASSERT_FALSE(d.error) << "split at " << i << ": " << test::describe_error(*d.error);
        ASSERT_EQ(d.frames, want) << "split at " << i;
        EXPECT_EQ(f.pending(), 0u) << "split at " << i;
        EXPECT_EQ(f.stream_offset(), stream.size()) << "split at " << i;
    }
}

TEST(StreamFramer, TwoMessagesInOneFeed) {
    StreamFramer f(StreamRole::server);
    Drained d = feed_all(f, k_a + k_b);
    ASSERT_FALSE(d.error);
    ASSERT_EQ(d.frames, (std::vector<std::string>{k_a, k_b}));
    EXPECT_EQ(f.pending(), 0u);
    EXPECT_EQ(f.stream_offset(), k_a.size() + k_b.size());
    EXPECT_FALSE(f.failed());
}

TEST(StreamFramer, FramesParseAsStreamMessages) {
    StreamFramer f(StreamRole::server);
    ASSERT_TRUE(f.feed(k_c + k_a));
    auto r = f.next();
    ASSERT_TRUE(Ok(r));
    ASSERT_TRUE(*r);
    EXPECT_EQ((*r)->kind, Frame::Kind::message);
    auto m = Message::parse((*r)->bytes, Limits{}, Framing::stream);
    ASSERT_TRUE(Ok(m));
    EXPECT_EQ(m->body(), "a\r\n\r\nb\n\nc");
    EXPECT_EQ(m->size(), k_c.size());
}

TEST(StreamFramer, SplitAtEveryByteGivesTheSameFrames) {
    expect_same_frames_at_every_split(StreamRole::server, k_a + k_b + k_c, {k_a, k_b, k_c});
}

TEST(StreamFramer, OneByteAtATime) {
    StreamFramer f(StreamRole::server);
    const std::string stream = k_c + k_b + k_a;
    Drained d;
    for (char ch : stream) {
        ASSERT_TRUE(f.feed(std::string_view(&ch, 1)));
        drain(f, d);
    }
    ASSERT_FALSE(d.error);
    EXPECT_EQ(d.frames, (std::vector<std::string>{k_c, k_b, k_a}));
}

TEST(StreamFramer, BodySplit) {
    StreamFramer f(StreamRole::server);
    const std::size_t hdr = end_of_headers(k_a);
    ASSERT_TRUE(f.feed(std::string_view(k_a).substr(0, hdr + 2)));
    auto r = f.next();
    ASSERT_TRUE(Ok(r));
    EXPECT_FALSE(*r);
    EXPECT_EQ(f.pending(), hdr + 2);
    EXPECT_EQ(f.stream_offset(), 0u);
    ASSERT_TRUE(f.feed(std::string_view(k_a).substr(hdr + 2)));
    auto s = f.next();
    ASSERT_TRUE(Ok(s));
    ASSERT_TRUE(*s);
    EXPECT_EQ((*s)->bytes.view(), k_a);
}

// ---------------------------------------------------------------- keep-alives (RFC 5626 §3.5.1)

TEST(StreamFramerKeepAlive, ServerSeesDoubleCrlfAsPing) {
    StreamFramer f(StreamRole::server);
    Drained d = feed_all(f, "\r\n\r\n");
    ASSERT_FALSE(d.error);
    EXPECT_EQ(d.frames, (std::vector<std::string>{std::string(k_ping)}));
    EXPECT_EQ(f.stream_offset(), 4u);
    EXPECT_EQ(f.pending(), 0u);
    Drained two = feed_all(f, "\r\n\r\n\r\n\r\n");
    EXPECT_EQ(two.frames, (std::vector<std::string>{std::string(k_ping), std::string(k_ping)}));
    EXPECT_EQ(f.stream_offset(), 12u);
}

TEST(StreamFramerKeepAlive, ServerWaitsAfterASingleCrlf) {
    StreamFramer f(StreamRole::server);
    Drained d = feed_all(f, "\r\n");
    EXPECT_FALSE(d.error);
    EXPECT_TRUE(d.frames.empty());
    Drained p = feed_all(f, "\r\n");
    EXPECT_EQ(p.frames, (std::vector<std::string>{std::string(k_ping)}));
}

TEST(StreamFramerKeepAlive, ServerSkipsOneCrlfBeforeAMessage) {
    StreamFramer f(StreamRole::server);
    Drained d = feed_all(f, "\r\n" + k_a);
    ASSERT_FALSE(d.error);
    EXPECT_EQ(d.frames, (std::vector<std::string>{k_a}));
    EXPECT_EQ(f.stream_offset(), 2 + k_a.size());
    expect_same_frames_at_every_split(StreamRole::server, "\r\n" + k_a, {k_a});
}

TEST(StreamFramerKeepAlive, PingBetweenMessages) {
    StreamFramer f(StreamRole::server);
    Drained d = feed_all(f, k_a + "\r\n\r\n" + k_b);
    ASSERT_FALSE(d.error);
    EXPECT_EQ(d.frames, (std::vector<std::string>{k_a, std::string(k_ping), k_b}));
}

TEST(StreamFramerKeepAlive, PingSplitAtEveryByteIsStillAPing) {
    // However TCP segments the double CRLF, the server must see the ping (and answer the pong).
    expect_same_frames_at_every_split(StreamRole::server, k_a + "\r\n\r\n" + k_b, {k_a, std::string(k_ping), k_b});
}

TEST(StreamFramerKeepAlive, PingAloneSplitAtEveryByte) {
    expect_same_frames_at_every_split(StreamRole::server, "\r\n\r\n", {std::string(k_ping)});
}

TEST(StreamFramerKeepAlive, BareLfPing) {
    StreamFramer f(StreamRole::server);
    EXPECT_EQ(feed_all(f, "\n\n").frames, (std::vector<std::string>{std::string(k_ping)}));
}

TEST(StreamFramerKeepAlive, ClientSeesCrlfAsPong) {
    StreamFramer f(StreamRole::client);
    Drained d = feed_all(f, "\r\n");
    ASSERT_FALSE(d.error);
    EXPECT_EQ(d.frames, (std::vector<std::string>{std::string(k_pong)}));
    EXPECT_EQ(f.stream_offset(), 2u);
    Drained two = feed_all(f, "\r\n\r\n");
    EXPECT_EQ(two.frames, (std::vector<std::string>{std::string(k_pong), std::string(k_pong)}));
    Drained lf = feed_all(f, "\n");
    EXPECT_EQ(lf.frames, (std::vector<std::string>{std::string(k_pong)}));
    EXPECT_EQ(f.stream_offset(), 7u);
}

TEST(StreamFramerKeepAlive, ClientPongSplitAndMessages) {
    expect_same_frames_at_every_split(StreamRole::client, "\r\n" + k_b + "\r\n" + k_a,
                                      {std::string(k_pong), k_b, std::string(k_pong), k_a});
}

TEST(StreamFramerKeepAlive, CrNotFollowedByLf) {
    StreamFramer server(StreamRole::server);
    Drained s = feed_all(server, "\rX");
    ASSERT_TRUE(s.error);
    EXPECT_EQ(s.error->code, ErrorCode::bad_line_ending);
    EXPECT_EQ(s.error->offset, 0u);
    EXPECT_TRUE(server.failed());

    StreamFramer client(StreamRole::client);
    Drained c = feed_all(client, "\r\n\rX");
    EXPECT_EQ(c.frames, (std::vector<std::string>{std::string(k_pong)}));
    ASSERT_TRUE(c.error);
    EXPECT_EQ(c.error->code, ErrorCode::bad_line_ending);
    EXPECT_EQ(c.error->offset, 2u);
}

// ---------------------------------------------------------------- errors

void expect_stays_failed(StreamFramer& f, const ParseError& first) {
    EXPECT_TRUE(f.failed());
    for (int i = 0; i < 2; ++i) {
        auto n = f.next();
        ASSERT_FALSE(n);
        EXPECT_TRUE(n.error().code == first.code || n.error().code == ErrorCode::stream_failed)
            << test::describe_error(n.error());
        auto fe = f.feed(k_b);
        ASSERT_FALSE(fe);
        EXPECT_TRUE(fe.error().code == first.code || fe.error().code == ErrorCode::stream_failed)
            << test::describe_error(fe.error());
    }
}

TEST(StreamFramerErrors, MissingContentLength) {
    const std::string no_cl = without_content_length(k_a);
    StreamFramer f(StreamRole::server);
    Drained d = feed_all(f, no_cl);
    ASSERT_TRUE(d.error);
    EXPECT_EQ(d.error->code, ErrorCode::missing_content_length);
    EXPECT_EQ(d.error->offset, end_of_headers(no_cl));
    EXPECT_EQ(d.error->status, 400);
    expect_stays_failed(f, *d.error);
}

TEST(StreamFramerErrors, ErrorOffsetsCountFromTheStartOfTheStream) {
    const std::string no_cl = without_content_length(k_a);
    StreamFramer f(StreamRole::server);
    Drained d = feed_all(f, k_b + "\r\n\r\n" + no_cl);
    EXPECT_EQ(d.frames, (std::vector<std::string>{k_b, std::string(k_ping)}));
    ASSERT_TRUE(d.error);
    EXPECT_EQ(d.error->code, ErrorCode::missing_content_length);
    EXPECT_EQ(d.error->offset, k_b.size() + 4 + end_of_headers(no_cl));
}

TEST(StreamFramerErrors, BadOrConflictingContentLength) {
    std::string text = k_a;
    text.insert(text.find("Content-Length"), "l: 6\r\n");
    StreamFramer f(StreamRole::server);
    Drained d = feed_all(f, text);
    ASSERT_TRUE(d.error);
    EXPECT_EQ(d.error->code, ErrorCode::bad_content_length);

    std::string bad = k_a;
    bad.replace(bad.find("Content-Length: 5"), 17, "Content-Length: five");
    StreamFramer g(StreamRole::server);
    Drained e = feed_all(g, bad);
    ASSERT_TRUE(e.error);
    EXPECT_EQ(e.error->code, ErrorCode::bad_content_length);
    EXPECT_TRUE(g.failed());
}

TEST(StreamFramerErrors, HeaderSectionLargerThanMaxMessageSize) {
    Limits limits;
    limits.max_message_size = 200;
    StreamFramer f(StreamRole::server, limits);
    std::string partial = "INVITE sip:bob@biloxi.com SIP/2.0\r\nSubject: " + std::string(300, 'x');
    Drained d = feed_all(f, partial);
    ASSERT_TRUE(d.error);
    EXPECT_EQ(d.error->code, ErrorCode::message_too_large);
    EXPECT_EQ(d.error->status, 513);
    EXPECT_EQ(d.error->offset, 200u);
    expect_stays_failed(f, *d.error);
}

TEST(StreamFramerErrors, MessageLargerThanMaxMessageSize) {
    Limits limits;
    limits.max_message_size = 400;
    const std::string big = make_request("MESSAGE", "", std::string(300, 'b'));
    ASSERT_GT(big.size(), 400u);
    StreamFramer f(StreamRole::server, limits);
    Drained d = feed_all(f, k_b + big);
    EXPECT_EQ(d.frames, (std::vector<std::string>{k_b}));
    ASSERT_TRUE(d.error);
    EXPECT_EQ(d.error->code, ErrorCode::message_too_large);
    EXPECT_EQ(d.error->status, 513);  // the headers fit; the announced body does not (RFC 3261 §21.5.14)
    EXPECT_EQ(d.error->offset, k_b.size());  // the start of the message too large

    limits.max_message_size = big.size();
    StreamFramer g(StreamRole::server, limits);
    EXPECT_EQ(feed_all(g, big).frames, (std::vector<std::string>{big}));
}

TEST(StreamFramerErrors, PendingBytesOverTheLimit) {
    Limits limits;
    limits.max_pending_stream_bytes = 100;
    StreamFramer f(StreamRole::server, limits);
    ASSERT_TRUE(f.feed(std::string(60, 'x')));
    EXPECT_EQ(f.pending(), 60u);
    auto r = f.feed(std::string(50, 'y'));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::message_too_large);
    EXPECT_EQ(r.error().status, 513);
    EXPECT_EQ(r.error().offset, 60u);
    expect_stays_failed(f, r.error());
}

TEST(StreamFramerErrors, PendingLimitCountsOnlyUnframedBytes) {
    Limits limits;
    limits.max_pending_stream_bytes = k_a.size() + 10;
    StreamFramer f(StreamRole::server, limits);
    for (int i = 0; i < 5; ++i) {
        Drained d = feed_all(f, k_a);
        ASSERT_FALSE(d.error) << i;
        EXPECT_EQ(d.frames, (std::vector<std::string>{k_a}));
    }
    EXPECT_EQ(f.stream_offset(), 5 * k_a.size());
}

// ---------------------------------------------------------------- offsets and sizes

TEST(StreamFramer, StreamOffsetAdvances) {
    StreamFramer f(StreamRole::server);
    ASSERT_TRUE(f.feed(k_a + "\r\n\r\n" + k_b));
    EXPECT_EQ(f.stream_offset(), 0u);
    EXPECT_EQ(f.pending(), k_a.size() + 4 + k_b.size());
    auto a = f.next();
    ASSERT_TRUE(a && *a);
    EXPECT_EQ(f.stream_offset(), k_a.size());
    auto p = f.next();
    ASSERT_TRUE(p && *p);
    EXPECT_EQ((*p)->kind, Frame::Kind::ping);
    EXPECT_EQ(f.stream_offset(), k_a.size() + 4);
    auto b = f.next();
    ASSERT_TRUE(b && *b);
    EXPECT_EQ(f.stream_offset(), k_a.size() + 4 + k_b.size());
    EXPECT_EQ(f.pending(), 0u);
    auto none = f.next();
    ASSERT_TRUE(none);
    EXPECT_FALSE(*none);
}

TEST(StreamFramer, LargeMessage) {
    std::string body(60 * 1024, '\0');
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
    body.replace(1000, 4, "\r\n\r\n");  // a blank line inside the body changes nothing
    const std::string big = make_request("MESSAGE", "Content-Type: text/plain\r\n", body);
    const std::string stream = big + k_b;
    StreamFramer f(StreamRole::server);
    Drained d;
    for (std::size_t i = 0; i < stream.size(); i += 4096) {
        ASSERT_TRUE(f.feed(std::string_view(stream).substr(i, 4096)));
        drain(f, d);
    }
    ASSERT_FALSE(d.error);
    ASSERT_EQ(d.frames.size(), 2u);
    EXPECT_TRUE(d.frames[0] == big);
    EXPECT_EQ(d.frames[1], k_b);
    auto m = Message::parse(d.frames[0], Limits{}, Framing::stream);
    ASSERT_TRUE(Ok(m));
    EXPECT_EQ(m->body().size(), 60u * 1024);
    EXPECT_TRUE(m->body() == body);
}

TEST(StreamFramer, CompactAndFoldedContentLength) {
    std::string compact = k_a;
    compact.replace(compact.find("Content-Length: 5"), 17, "l: 5");
    std::string folded = k_a;
    folded.replace(folded.find("Content-Length: 5"), 17, "content-length:\r\n 5");
    StreamFramer f(StreamRole::server);
    Drained d = feed_all(f, compact + folded);
    ASSERT_FALSE(d.error) << test::describe_error(*d.error);
    EXPECT_EQ(d.frames, (std::vector<std::string>{compact, folded}));
}

TEST(StreamFramer, BareLfHeaders) {
    const std::string lf = "OPTIONS sip:b@h SIP/2.0\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\nContent-Length: 2\n\nhi";
    StreamFramer f(StreamRole::server);
    Drained d = feed_all(f, lf + lf);
    ASSERT_FALSE(d.error);
    EXPECT_EQ(d.frames, (std::vector<std::string>{lf, lf}));
}

}  // namespace
}  // namespace referkit
