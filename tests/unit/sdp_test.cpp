// Minimal SDP (RFC 4566 syntax) and RFC 3264 offer/answer for one audio stream.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "referkit/core/sdp.hpp"
#include "test_support.hpp"

namespace referkit {
namespace {

// The shape baresip offers (opus first, static G722/PCMU/PCMA, telephone-event), LF line ends.
constexpr std::string_view k_baresip_offer =
    "v=0\n"
    "o=- 1209604582 2137620425 IN IP4 192.168.1.10\n"
    "s=-\n"
    "c=IN IP4 192.168.1.10\n"
    "t=0 0\n"
    "m=audio 10390 RTP/AVP 96 9 0 8 101\n"
    "b=AS:512\n"
    "a=rtpmap:96 opus/48000/2\n"
    "a=fmtp:96 stereo=1;sprop-stereo=1\n"
    "a=rtpmap:101 telephone-event/8000\n"
    "a=fmtp:101 0-15\n"
    "a=sendrecv\n"
    "a=label:1\n"
    "a=rtcp-rsize\n"
    "a=ssrc:1487285093 cname:sip:alice@example.com\n";

// The shape SIP.js (browser WebRTC) offers: ICE, DTLS, c=0.0.0.0 placeholder, CRLF.
constexpr std::string_view k_sipjs_offer =
    "v=0\r\n"
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0\r\n"
    "a=msid-semantic: WMS\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:Ufrg\r\n"
    "a=ice-pwd:0123456789abcdef01234567\r\n"
    "a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=sendrecv\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=rtcp-fb:111 transport-cc\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=rtpmap:63 red/48000/2\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:13 CN/8000\r\n"
    "a=rtpmap:110 telephone-event/48000\r\n"
    "a=rtpmap:126 telephone-event/8000\r\n";

Sdp must_parse(std::string_view body) {
    auto r = parse_sdp(body);
    EXPECT_TRUE(test::Ok(r)) << body;
    return r ? *r : Sdp{};
}

// A simple offer with one audio line in `direction`, connection `addr`, extra media lines after.
std::string offer(std::string_view direction, std::string_view addr = "192.0.2.5", std::string_view extra_media = {}) {
    std::string s = "v=0\r\no=alice 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 ";
    s += addr;
    s += "\r\nt=0 0\r\n";
    s += extra_media;
    s += "m=audio 20000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
    if (!direction.empty()) {
        s += "a=";
        s += direction;
        s += "\r\n";
    }
    return s;
}

Sdp answer_for(std::string_view offer_text, const SdpLocal& local = {}) {
    Sdp o = must_parse(offer_text);
    auto a = make_sdp_answer(local, 2, o);
    EXPECT_TRUE(test::Ok(a)) << offer_text;
    return a ? must_parse(*a) : Sdp{};
}

TEST(Sdp, DirectionNames) {
    EXPECT_EQ(to_string(MediaDirection::sendrecv), "sendrecv");
    EXPECT_EQ(to_string(MediaDirection::sendonly), "sendonly");
    EXPECT_EQ(to_string(MediaDirection::recvonly), "recvonly");
    EXPECT_EQ(to_string(MediaDirection::inactive), "inactive");
}

TEST(Sdp, ParsesBaresipOffer) {
    Sdp s = must_parse(k_baresip_offer);
    EXPECT_EQ(s.origin_username, "-");
    EXPECT_EQ(s.session_id, 1209604582U);
    EXPECT_EQ(s.session_version, 2137620425U);
    EXPECT_EQ(s.origin_address, "192.168.1.10");
    EXPECT_EQ(s.connection, "192.168.1.10");
    ASSERT_EQ(s.media.size(), 1U);
    const SdpMedia& m = s.media[0];
    EXPECT_EQ(m.media, "audio");
    EXPECT_EQ(m.port, 10390);
    EXPECT_EQ(m.proto, "RTP/AVP");
    EXPECT_EQ(m.formats, (std::vector<int>{96, 9, 0, 8, 101}));
    EXPECT_EQ(m.format_text, "96 9 0 8 101");
    ASSERT_EQ(m.codecs.size(), 5U);  // 9, 0 and 8 from the static table (RFC 3551 §6)
    EXPECT_EQ(m.codecs[0].encoding, "opus");
    EXPECT_EQ(m.codecs[0].clock_rate, 48000);
    EXPECT_EQ(m.codecs[0].channels, 2);
    EXPECT_EQ(m.codecs[1].encoding, "G722");
    EXPECT_EQ(m.codecs[2].encoding, "PCMU");
    EXPECT_EQ(m.codecs[3].encoding, "PCMA");
    EXPECT_EQ(m.codecs[4].encoding, "telephone-event");
    EXPECT_EQ(m.connection, "192.168.1.10");  // inherited from the session
    EXPECT_EQ(m.direction, MediaDirection::sendrecv);
    EXPECT_FALSE(m.ice);
    EXPECT_EQ(audio_direction(s), MediaDirection::sendrecv);
}

TEST(Sdp, AnswersBaresipOfferWithCommonCodecs) {
    Sdp o = must_parse(k_baresip_offer);
    auto a = make_sdp_answer(SdpLocal{.address = "192.0.2.1", .audio_port = 40002}, 5, o);
    ASSERT_TRUE(test::Ok(a));
    Sdp s = must_parse(*a);
    EXPECT_EQ(s.session_version, 5U);
    EXPECT_EQ(s.origin_username, "referkit");
    EXPECT_EQ(s.connection, "192.0.2.1");
    ASSERT_EQ(s.media.size(), 1U);
    EXPECT_EQ(s.media[0].port, 40002);
    EXPECT_EQ(s.media[0].proto, "RTP/AVP");
    EXPECT_EQ(s.media[0].formats, (std::vector<int>{0, 8, 101}));  // offer's order, no opus/G722
    EXPECT_EQ(s.media[0].direction, MediaDirection::sendrecv);
    EXPECT_NE(a->find("a=fmtp:101 0-16\r\n"), std::string::npos) << *a;
}

TEST(Sdp, ParsesSipJsOffer) {
    Sdp s = must_parse(k_sipjs_offer);
    EXPECT_EQ(s.session_id, 4611731400430051336U);
    EXPECT_EQ(s.connection, "");
    ASSERT_EQ(s.media.size(), 1U);
    const SdpMedia& m = s.media[0];
    EXPECT_EQ(m.proto, "UDP/TLS/RTP/SAVPF");
    EXPECT_EQ(m.port, 9);
    EXPECT_EQ(m.connection, "0.0.0.0");
    EXPECT_TRUE(m.ice);
    EXPECT_EQ(m.formats.size(), 8U);
    ASSERT_EQ(m.codecs.size(), 8U);
    EXPECT_EQ(m.codecs[7].payload_type, 126);
    EXPECT_EQ(m.codecs[7].encoding, "telephone-event");
    EXPECT_EQ(m.direction, MediaDirection::sendrecv);
}

TEST(Sdp, SipJsOfferNeedsTheProfileAllowed) {
    Sdp o = must_parse(k_sipjs_offer);
    auto refused = make_sdp_answer(SdpLocal{}, 1, o);  // RTP/AVP only: no DTLS-SRTP here
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().status, 488);
    SdpLocal webrtc;
    webrtc.profiles.emplace_back("UDP/TLS/RTP/SAVPF");
    auto a = make_sdp_answer(webrtc, 1, o);
    ASSERT_TRUE(test::Ok(a));
    Sdp s = must_parse(*a);
    ASSERT_EQ(s.media.size(), 1U);
    EXPECT_EQ(s.media[0].proto, "UDP/TLS/RTP/SAVPF");
    EXPECT_EQ(s.media[0].formats, (std::vector<int>{0, 8, 126}));  // telephone-event/8000, not /48000
    // c=0.0.0.0 with ICE is a placeholder, not a hold.
    EXPECT_EQ(s.media[0].direction, MediaDirection::sendrecv);
}

TEST(Sdp, OurOfferRoundTrips) {
    SdpLocal local{.address = "198.51.100.7", .audio_port = 41000, .session_id = 77, .username = "bob"};
    std::string text = make_sdp_offer(local, 3);
    EXPECT_TRUE(text.starts_with("v=0\r\n")) << text;
    EXPECT_TRUE(text.ends_with("\r\n")) << text;
    Sdp s = must_parse(text);
    EXPECT_EQ(s.origin_username, "bob");
    EXPECT_EQ(s.session_id, 77U);
    EXPECT_EQ(s.session_version, 3U);
    EXPECT_EQ(s.origin_address, "198.51.100.7");
    EXPECT_EQ(s.connection, "198.51.100.7");
    ASSERT_EQ(s.media.size(), 1U);
    EXPECT_EQ(s.media[0].media, "audio");
    EXPECT_EQ(s.media[0].port, 41000);
    EXPECT_EQ(s.media[0].proto, "RTP/AVP");
    EXPECT_EQ(s.media[0].formats, (std::vector<int>{0, 8, 101}));
    ASSERT_EQ(s.media[0].codecs.size(), local.codecs.size());
    for (std::size_t i = 0; i < local.codecs.size(); ++i) {
        EXPECT_EQ(s.media[0].codecs[i].payload_type, local.codecs[i].payload_type);
        EXPECT_EQ(s.media[0].codecs[i].encoding, local.codecs[i].encoding);
        EXPECT_EQ(s.media[0].codecs[i].clock_rate, local.codecs[i].clock_rate);
        EXPECT_EQ(s.media[0].codecs[i].channels, local.codecs[i].channels);
    }
    EXPECT_EQ(audio_direction(s), MediaDirection::sendrecv);
    // RFC 3264 §8.4 hold.
    EXPECT_EQ(audio_direction(must_parse(make_sdp_offer(local, 4, MediaDirection::sendonly))), MediaDirection::sendonly);
    EXPECT_EQ(audio_direction(must_parse(make_sdp_offer(local, 5, MediaDirection::inactive))), MediaDirection::inactive);
    // IPv6 gets IP6 address types.
    std::string v6 = make_sdp_offer(SdpLocal{.address = "2001:db8::1"}, 1);
    EXPECT_NE(v6.find("c=IN IP6 2001:db8::1\r\n"), std::string::npos) << v6;
    EXPECT_EQ(must_parse(v6).connection, "2001:db8::1");
}

TEST(Sdp, AnswerDirectionsPerRfc3264) {
    EXPECT_EQ(audio_direction(answer_for(offer("sendonly"))), MediaDirection::recvonly);
    EXPECT_EQ(audio_direction(answer_for(offer("recvonly"))), MediaDirection::sendonly);
    EXPECT_EQ(audio_direction(answer_for(offer("inactive"))), MediaDirection::inactive);
    EXPECT_EQ(audio_direction(answer_for(offer(""))), MediaDirection::sendrecv);
    // RFC 2543 hold: c=0.0.0.0 is treated as sendonly.
    EXPECT_EQ(audio_direction(answer_for(offer("", "0.0.0.0"))), MediaDirection::recvonly);
    EXPECT_EQ(audio_direction(answer_for(offer("sendrecv", "0.0.0.0"))), MediaDirection::recvonly);
    // Our own hold intersects: sendrecv offer + we hold = sendonly; their sendonly + our sendonly = inactive.
    Sdp o = must_parse(offer(""));
    auto held = make_sdp_answer(SdpLocal{}, 1, o, MediaDirection::sendonly);
    ASSERT_TRUE(test::Ok(held));
    EXPECT_EQ(audio_direction(must_parse(*held)), MediaDirection::sendonly);
    auto both = make_sdp_answer(SdpLocal{}, 1, must_parse(offer("sendonly")), MediaDirection::sendonly);
    ASSERT_TRUE(test::Ok(both));
    EXPECT_EQ(audio_direction(must_parse(*both)), MediaDirection::inactive);
}

TEST(Sdp, SessionLevelDirectionApplies) {
    std::string text = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\na=sendonly\r\n"
                       "m=audio 4000 RTP/AVP 0\r\n"
                       "m=audio 4002 RTP/AVP 0\r\na=inactive\r\n";
    Sdp s = must_parse(text);
    EXPECT_EQ(s.direction, MediaDirection::sendonly);
    ASSERT_EQ(s.media.size(), 2U);
    EXPECT_EQ(s.media[0].direction, MediaDirection::sendonly);
    EXPECT_EQ(s.media[1].direction, MediaDirection::inactive);  // media-level wins
    EXPECT_EQ(audio_direction(s), MediaDirection::sendonly);
}

TEST(Sdp, VideoAndAudioOfferRejectsVideo) {
    std::string text = offer("", "192.0.2.5", "m=video 30000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n");
    Sdp o = must_parse(text);
    ASSERT_EQ(o.media.size(), 2U);
    auto a = make_sdp_answer(SdpLocal{}, 1, o);
    ASSERT_TRUE(test::Ok(a));
    Sdp s = must_parse(*a);
    ASSERT_EQ(s.media.size(), 2U);  // RFC 3264 §6: same number and order of m-lines
    EXPECT_EQ(s.media[0].media, "video");
    EXPECT_EQ(s.media[0].port, 0);
    EXPECT_EQ(s.media[0].formats, (std::vector<int>{96}));
    EXPECT_EQ(s.media[1].media, "audio");
    EXPECT_EQ(s.media[1].port, 40000);
    EXPECT_EQ(s.media[1].formats, (std::vector<int>{8, 0, 101}));
    EXPECT_EQ(audio_direction(s), MediaDirection::sendrecv);
}

TEST(Sdp, OnlyTheFirstAcceptableAudioStreamIsAccepted) {
    std::string text = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
                       "m=audio 0 RTP/AVP 0\r\n"                    // already rejected by the offerer
                       "m=audio 5000 RTP/AVP 18\r\n"                // no common codec
                       "m=audio 6000 RTP/AVP 0\r\n"                 // accepted
                       "m=audio 7000 RTP/AVP 8\r\n"                 // a second audio stream: rejected
                       "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n";
    Sdp s = answer_for(text);
    ASSERT_EQ(s.media.size(), 5U);
    EXPECT_EQ(s.media[0].port, 0);
    EXPECT_EQ(s.media[1].port, 0);
    EXPECT_EQ(s.media[2].port, 40000);
    EXPECT_EQ(s.media[3].port, 0);
    EXPECT_EQ(s.media[4].port, 0);
    EXPECT_EQ(s.media[4].format_text, "webrtc-datachannel");
}

TEST(Sdp, NoCommonCodecIsAnError) {
    std::string text = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
                       "m=audio 5000 RTP/AVP 96 101\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n";
    auto a = make_sdp_answer(SdpLocal{}, 1, must_parse(text));
    ASSERT_FALSE(a.has_value());  // telephone-event alone carries no audio
    EXPECT_EQ(a.error().status, 488);
    auto none = make_sdp_answer(SdpLocal{}, 1, must_parse("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n"));
    ASSERT_FALSE(none.has_value());
    EXPECT_EQ(none.error().status, 488);
}

TEST(Sdp, MalformedLinesReportTheirOffset) {
    // Not "<letter>=": offset of the line.
    std::string a = "v=0\r\no=- 1 1 IN IP4 h\r\nbogus line\r\n";
    EXPECT_TRUE(test::Fails(parse_sdp(a), ErrorCode::bad_token, 23));
    EXPECT_EQ(parse_sdp(a).error().status, 400);
    // v= missing.
    EXPECT_TRUE(test::Fails(parse_sdp("o=- 1 1 IN IP4 h\r\n"), ErrorCode::bad_version, 0));
    EXPECT_TRUE(test::Fails(parse_sdp(""), ErrorCode::bad_version, 0));
    // o= with too few fields: offset of the value.
    EXPECT_TRUE(test::Fails(parse_sdp("v=0\no=- 1 IN IP4 h\n"), ErrorCode::bad_token, 6));
    EXPECT_TRUE(test::Fails(parse_sdp("v=0\no=- x 1 IN IP4 h\n"), ErrorCode::bad_number, 6));
    // No o= at all.
    EXPECT_TRUE(test::FailsWith(parse_sdp("v=0\ns=-\n"), ErrorCode::missing_header));
    // m= port out of range: offset of the port.
    std::string m = "v=0\no=- 1 1 IN IP4 h\nm=audio 70000 RTP/AVP 0\n";
    EXPECT_TRUE(test::Fails(parse_sdp(m), ErrorCode::bad_port, 29));
    // RTP payload type not a number.
    std::string pt = "v=0\no=- 1 1 IN IP4 h\nm=audio 7000 RTP/AVP 0 x\n";
    EXPECT_TRUE(test::Fails(parse_sdp(pt), ErrorCode::bad_number, 44));
    // c= with a bad network type.
    std::string c = "v=0\no=- 1 1 IN IP4 h\nc=XX IP4 1.2.3.4\n";
    EXPECT_TRUE(test::Fails(parse_sdp(c), ErrorCode::bad_host, 23));
    // Broken rtpmap.
    std::string r = "v=0\no=- 1 1 IN IP4 h\nm=audio 7000 RTP/AVP 96\na=rtpmap:96 opus\n";
    EXPECT_TRUE(test::Fails(parse_sdp(r), ErrorCode::bad_token, 47));
}

}  // namespace
}  // namespace referkit
