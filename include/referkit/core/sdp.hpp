// A minimal SDP (RFC 4566 syntax) and RFC 3264 offer/answer for one audio stream. Media itself
// is out of scope: this exists so that real softphones accept our calls and our answers.
#pragma once
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/error.hpp"

namespace referkit {

enum class MediaDirection : std::uint8_t { sendrecv, sendonly, recvonly, inactive };
[[nodiscard]] std::string_view to_string(MediaDirection d) noexcept;  // "sendrecv" ...

struct SdpCodec {
    int payload_type = 0;
    std::string encoding;  // "PCMU", "telephone-event"
    int clock_rate = 8000;
    int channels = 1;
};

struct SdpMedia {
    std::string media;  // "audio", "video" ...
    std::uint16_t port = 0;
    std::string proto;  // "RTP/AVP", "RTP/SAVPF" ...
    std::vector<int> formats;  // RTP payload types in preference order (non-RTP formats are skipped)
    std::vector<SdpCodec> codecs;  // from a=rtpmap, plus the static types 0 and 8 when not mapped
    MediaDirection direction = MediaDirection::sendrecv;  // the media's attribute, else the session's
    std::string connection;  // c= address of the media, else the session's
    std::string format_text;  // the <fmt> list as written ("0 8 101", "webrtc-datachannel")
    bool ice = false;  // a=ice-ufrag at media or session level: c=0.0.0.0 is then no hold (RFC 8839 §4.2.1)
};

struct Sdp {
    std::string origin_username;
    std::uint64_t session_id = 0, session_version = 0;
    std::string origin_address;
    std::string connection;  // session-level c= address ("" when only media-level)
    MediaDirection direction = MediaDirection::sendrecv;  // session-level attribute
    std::vector<SdpMedia> media;
};

// Parses an SDP body (CRLF or LF line ends; blank lines tolerated; unknown lines and attributes
// ignored). Only the fields above are kept; the media's direction and connection are resolved
// (media-level, else session-level). Static payload types 0/3/4/8/9/18 get codecs without rtpmap.
// Errors carry the byte offset within body and status 400 (a malformed body; the UAS answers 400):
// bad_version (v=0 missing or not first), bad_token (a line not "<letter>=<value>", o= or m= with
// too few fields, bad a=rtpmap), bad_number (o= id/version, RTP payload type), bad_port (m= port),
// bad_host (c= not "IN IP4|IP6 <address>"), missing_header (no o= line). An SDP without m= lines
// parses; make_sdp_answer rejects it with 488.
[[nodiscard]] std::expected<Sdp, ParseError> parse_sdp(std::string_view body);

struct SdpLocal {
    std::string address = "127.0.0.1";
    std::uint16_t audio_port = 40000;
    std::uint64_t session_id = 1;
    std::string username = "referkit";
    std::vector<SdpCodec> codecs = {{0, "PCMU", 8000, 1}, {8, "PCMA", 8000, 1}, {101, "telephone-event", 8000, 1}};
    // Transport protocols an answer may accept (exact, case-insensitive), echoed in the answer's
    // m-line. Add "UDP/TLS/RTP/SAVPF" only for signalling tests against WebRTC peers: we write no
    // DTLS fingerprint or ICE attributes, so a browser would still refuse the answer.
    std::vector<std::string> profiles = {"RTP/AVP"};
};

// An offer with one audio m-line (RTP/AVP) in `direction` (hold = sendonly, RFC 3264 §8.4).
// version is the o= session version: increase it with every new offer of a session (§8).
[[nodiscard]] std::string make_sdp_offer(const SdpLocal& local, std::uint64_t version,
                                         MediaDirection direction = MediaDirection::sendrecv);

// RFC 3264 §6: one m-line per offered m-line, same order; the first audio stream with a common
// codec is accepted with the common codecs, direction answered per §6.1 (sendonly→recvonly,
// recvonly→sendonly, inactive→inactive; offer c=0.0.0.0 (RFC 2543 hold) → treated as sendonly,
// unless the stream uses ICE, where 0.0.0.0 is only a placeholder default address);
// every other m-line port 0. Accepted codecs keep the offer's payload numbers and order; codecs
// match by encoding name (case-insensitive), clock rate and channels; telephone-event/CN alone do
// not make a stream acceptable. Only protocols in local.profiles are accepted. Error (bad_token,
// offset 0, status 488: the caller answers 488 Not Acceptable Here) when no audio stream is acceptable.
[[nodiscard]] std::expected<std::string, ParseError> make_sdp_answer(const SdpLocal& local, std::uint64_t version,
                                                                     const Sdp& offer);

// The same, with our own direction (we hold: sendonly; both hold: inactive), intersected with the
// answer §6.1 gives (sendrecv offer + local sendonly → sendonly; recvonly offer + local recvonly → inactive).
[[nodiscard]] std::expected<std::string, ParseError> make_sdp_answer(const SdpLocal& local, std::uint64_t version,
                                                                     const Sdp& offer, MediaDirection local_direction);

// Direction of the first accepted audio stream (port != 0; session-level attribute applies when
// the media has none); sendrecv when there is none.
[[nodiscard]] MediaDirection audio_direction(const Sdp& sdp) noexcept;

}  // namespace referkit
