// A minimal SDP: RFC 4566 syntax for the lines we use, RFC 3264 offer/answer for one audio stream.
#include "referkit/core/sdp.hpp"

#include <array>
#include <charconv>
#include <optional>

#include "referkit/core/header_id.hpp"

namespace referkit {

namespace {

ParseError sdp_error(ErrorCode code, std::size_t offset, std::string_view what, std::uint16_t status = 400) {
    return ParseError{.code = code, .offset = static_cast<std::uint32_t>(offset), .status = status, .what = what};
}

// Splits on single spaces (RFC 4566 §5: fields are separated by exactly one space; we also accept
// runs of spaces and tabs, as several implementations emit them).
std::vector<std::string_view> fields(std::string_view value) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < value.size()) {
        while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
        std::size_t start = i;
        while (i < value.size() && value[i] != ' ' && value[i] != '\t') ++i;
        if (i > start) out.push_back(value.substr(start, i - start));
    }
    return out;
}

template <typename T>
std::optional<T> number(std::string_view s) noexcept {
    if (s.empty()) return std::nullopt;
    T v{};
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    return v;
}

std::optional<MediaDirection> direction_attribute(std::string_view attr) noexcept {
    if (attr == "sendrecv") return MediaDirection::sendrecv;
    if (attr == "sendonly") return MediaDirection::sendonly;
    if (attr == "recvonly") return MediaDirection::recvonly;
    if (attr == "inactive") return MediaDirection::inactive;
    return std::nullopt;
}

// Static payload types of RFC 3551 §6 that a peer may use without a=rtpmap.
std::optional<SdpCodec> static_codec(int pt) {
    switch (pt) {
    case 0: return SdpCodec{0, "PCMU", 8000, 1};
    case 3: return SdpCodec{3, "GSM", 8000, 1};
    case 4: return SdpCodec{4, "G723", 8000, 1};
    case 8: return SdpCodec{8, "PCMA", 8000, 1};
    case 9: return SdpCodec{9, "G722", 8000, 1};  // RTP clock 8000 although sampled at 16 kHz (RFC 3551 §4.5.2)
    case 18: return SdpCodec{18, "G729", 8000, 1};
    default: return std::nullopt;
    }
}

bool is_rtp(std::string_view proto) noexcept { return proto.find("RTP/") != std::string_view::npos; }

// Auxiliary payloads that do not carry audio by themselves (RFC 4733 telephone-event, RFC 3389 CN).
bool is_auxiliary(const SdpCodec& c) noexcept { return iequals(c.encoding, "telephone-event") || iequals(c.encoding, "CN"); }

bool same_codec(const SdpCodec& a, const SdpCodec& b) noexcept {
    return iequals(a.encoding, b.encoding) && a.clock_rate == b.clock_rate && a.channels == b.channels;
}

// "IN IP4 192.0.2.1[/ttl]" -> "192.0.2.1"
std::optional<std::string> connection_address(std::string_view value) {
    auto f = fields(value);
    if (f.size() != 3 || f[0] != "IN" || (f[1] != "IP4" && f[1] != "IP6")) return std::nullopt;
    std::string_view addr = f[2];
    if (auto slash = addr.find('/'); slash != std::string_view::npos) addr = addr.substr(0, slash);
    if (addr.empty()) return std::nullopt;
    return std::string(addr);
}

struct Rtpmap {
    SdpCodec codec;
    std::size_t media_index = 0;
};

void append_line(std::string& out, std::string_view line) {
    out += line;
    out += "\r\n";
}

std::string_view addrtype(std::string_view address) noexcept {
    return address.find(':') != std::string_view::npos ? "IP6" : "IP4";
}

void append_codec_lines(std::string& out, const std::vector<SdpCodec>& codecs) {
    for (const SdpCodec& c : codecs) {
        out += "a=rtpmap:" + std::to_string(c.payload_type) + ' ' + c.encoding + '/' + std::to_string(c.clock_rate);
        if (c.channels != 1) out += '/' + std::to_string(c.channels);
        out += "\r\n";
        // RFC 4733 §2.4.1: the events we understand (DTMF 0-15 plus flash).
        if (iequals(c.encoding, "telephone-event")) append_line(out, "a=fmtp:" + std::to_string(c.payload_type) + " 0-16");
    }
}

std::string session_header(const SdpLocal& local, std::uint64_t version) {
    std::string out;
    append_line(out, "v=0");
    append_line(out, "o=" + (local.username.empty() ? std::string("-") : local.username) + ' ' +
                         std::to_string(local.session_id) + ' ' + std::to_string(version) + " IN " +
                         std::string(addrtype(local.address)) + ' ' + local.address);
    append_line(out, "s=-");
    append_line(out, "c=IN " + std::string(addrtype(local.address)) + ' ' + local.address);
    append_line(out, "t=0 0");
    return out;
}

// RFC 3264 §6.1: the answer's direction given the offer's.
MediaDirection answer_direction(MediaDirection offered, MediaDirection local) noexcept {
    bool we_send = false, we_receive = false;
    switch (offered) {
    case MediaDirection::sendrecv: we_send = we_receive = true; break;
    case MediaDirection::sendonly: we_receive = true; break;
    case MediaDirection::recvonly: we_send = true; break;
    case MediaDirection::inactive: break;
    }
    switch (local) {
    case MediaDirection::sendrecv: break;
    case MediaDirection::sendonly: we_receive = false; break;
    case MediaDirection::recvonly: we_send = false; break;
    case MediaDirection::inactive: we_send = we_receive = false; break;
    }
    if (we_send && we_receive) return MediaDirection::sendrecv;
    if (we_send) return MediaDirection::sendonly;
    if (we_receive) return MediaDirection::recvonly;
    return MediaDirection::inactive;
}

// RFC 3264 §8.4 / RFC 2543: c=0.0.0.0 means "do not send to me" (but not with ICE, RFC 8839 §4.2.1).
MediaDirection effective_offer_direction(const SdpMedia& m) noexcept {
    if (m.connection != "0.0.0.0" || m.ice) return m.direction;
    switch (m.direction) {
    case MediaDirection::sendrecv:
    case MediaDirection::sendonly: return MediaDirection::sendonly;
    case MediaDirection::recvonly:
    case MediaDirection::inactive: return MediaDirection::inactive;
    }
    return MediaDirection::inactive;
}

}  // namespace

std::string_view to_string(MediaDirection d) noexcept {
    switch (d) {
    case MediaDirection::sendrecv: return "sendrecv";
    case MediaDirection::sendonly: return "sendonly";
    case MediaDirection::recvonly: return "recvonly";
    case MediaDirection::inactive: return "inactive";
    }
    return "";
}

std::expected<Sdp, ParseError> parse_sdp(std::string_view body) {
    Sdp sdp;
    std::vector<std::optional<MediaDirection>> media_direction;  // attribute per m-line, if any
    std::vector<Rtpmap> rtpmaps;
    std::optional<MediaDirection> session_direction;
    bool session_ice = false;
    bool have_version = false, have_origin = false;
    std::size_t pos = 0;
    while (pos < body.size()) {
        std::size_t eol = body.find('\n', pos);
        std::size_t next = eol == std::string_view::npos ? body.size() : eol + 1;
        std::string_view line = body.substr(pos, (eol == std::string_view::npos ? body.size() : eol) - pos);
        if (line.ends_with('\r')) line.remove_suffix(1);
        const std::size_t at = pos;
        pos = next;
        if (line.empty()) continue;  // tolerated (a trailing blank line is common)
        // RFC 4566 §5: <type>=<value>, type is exactly one lower-case letter.
        if (line.size() < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z')
            return std::unexpected(sdp_error(ErrorCode::bad_token, at, "SDP line is not <letter>=<value>"));
        for (std::size_t i = 0; i < line.size(); ++i)
            if (line[i] == '\0' || line[i] == '\r')
                return std::unexpected(sdp_error(ErrorCode::bad_token, at + i, "control character in an SDP line"));
        const char type = line[0];
        const std::string_view value = line.substr(2);
        const std::size_t value_at = at + 2;
        if (!have_version) {
            if (type != 'v' || value != "0")  // RFC 4566 §5.1: v=0 is the first line
                return std::unexpected(sdp_error(ErrorCode::bad_version, at, "SDP must start with v=0"));
            have_version = true;
            continue;
        }
        switch (type) {
        case 'v': return std::unexpected(sdp_error(ErrorCode::bad_version, at, "second v= line"));
        case 'o': {
            auto f = fields(value);
            if (f.size() != 6 || f[3] != "IN")
                return std::unexpected(sdp_error(ErrorCode::bad_token, value_at, "o= needs 6 fields"));
            auto id = number<std::uint64_t>(f[1]);
            auto ver = number<std::uint64_t>(f[2]);
            if (!id || !ver)
                return std::unexpected(sdp_error(ErrorCode::bad_number, value_at, "o= session id and version must be numbers"));
            sdp.origin_username = std::string(f[0]);
            sdp.session_id = *id;
            sdp.session_version = *ver;
            sdp.origin_address = std::string(f[5]);
            have_origin = true;
            break;
        }
        case 'c': {
            auto addr = connection_address(value);
            if (!addr) return std::unexpected(sdp_error(ErrorCode::bad_host, value_at, "c= must be IN IP4|IP6 <address>"));
            if (sdp.media.empty()) sdp.connection = std::move(*addr);
            else sdp.media.back().connection = std::move(*addr);
            break;
        }
        case 'm': {
            // RFC 4566 §5.14: m=<media> <port>[/<number of ports>] <proto> <fmt> ...
            auto f = fields(value);
            if (f.size() < 4) return std::unexpected(sdp_error(ErrorCode::bad_token, value_at, "m= needs media, port, proto and a format"));
            std::string_view port_text = f[1];
            if (auto slash = port_text.find('/'); slash != std::string_view::npos) port_text = port_text.substr(0, slash);
            auto port = number<std::uint16_t>(port_text);
            if (!port) return std::unexpected(sdp_error(ErrorCode::bad_port, value_at + static_cast<std::size_t>(f[1].data() - value.data()), "bad m= port"));
            SdpMedia m;
            m.media = std::string(f[0]);
            m.port = *port;
            m.proto = std::string(f[2]);
            const std::size_t formats_at = static_cast<std::size_t>(f[3].data() - value.data());
            m.format_text = std::string(value.substr(formats_at));
            if (is_rtp(m.proto)) {
                for (std::size_t i = 3; i < f.size(); ++i) {
                    auto pt = number<int>(f[i]);
                    if (!pt || *pt < 0 || *pt > 127)
                        return std::unexpected(sdp_error(ErrorCode::bad_number, value_at + static_cast<std::size_t>(f[i].data() - value.data()), "RTP payload type must be 0-127"));
                    m.formats.push_back(*pt);
                }
            }
            sdp.media.push_back(std::move(m));
            media_direction.emplace_back();
            break;
        }
        case 'a': {
            std::string_view attr = value, attr_value;
            if (auto colon = value.find(':'); colon != std::string_view::npos) {
                attr = value.substr(0, colon);
                attr_value = value.substr(colon + 1);
            }
            if (auto d = direction_attribute(value)) {
                if (sdp.media.empty()) session_direction = d;
                else media_direction.back() = d;
            } else if (attr == "ice-ufrag") {
                if (sdp.media.empty()) session_ice = true;
                else sdp.media.back().ice = true;
            } else if (attr == "rtpmap" && !sdp.media.empty()) {
                // RFC 4566 §6: a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]
                auto f = fields(attr_value);
                auto bad = [&] { return std::unexpected(sdp_error(ErrorCode::bad_token, value_at, "bad a=rtpmap")); };
                if (f.size() != 2) return bad();
                auto pt = number<int>(f[0]);
                std::string_view enc = f[1];
                std::size_t s1 = enc.find('/');
                if (!pt || *pt < 0 || *pt > 127 || s1 == std::string_view::npos || s1 == 0) return bad();
                std::string_view rest = enc.substr(s1 + 1), chans = "1";
                if (auto s2 = rest.find('/'); s2 != std::string_view::npos) {
                    chans = rest.substr(s2 + 1);
                    rest = rest.substr(0, s2);
                }
                auto rate = number<int>(rest);
                auto ch = number<int>(chans);
                if (!rate || *rate <= 0 || !ch || *ch <= 0) return bad();
                rtpmaps.push_back(Rtpmap{SdpCodec{*pt, std::string(enc.substr(0, s1)), *rate, *ch}, sdp.media.size() - 1});
            }
            break;  // other attributes are not ours to understand (RFC 4566 §5.13: ignore unknown)
        }
        default: break;  // s= i= u= e= p= b= t= r= z= k=: not needed here
        }
    }
    if (!have_version) return std::unexpected(sdp_error(ErrorCode::bad_version, 0, "empty SDP"));
    if (!have_origin) return std::unexpected(sdp_error(ErrorCode::missing_header, body.size(), "SDP without o= line"));
    sdp.direction = session_direction.value_or(MediaDirection::sendrecv);
    for (std::size_t i = 0; i < sdp.media.size(); ++i) {
        SdpMedia& m = sdp.media[i];
        m.direction = media_direction[i].value_or(sdp.direction);
        if (m.connection.empty()) m.connection = sdp.connection;
        m.ice = m.ice || session_ice;
        std::array<const Rtpmap*, 128> by_pt{};  // the last rtpmap of each payload type of this m-line
        for (const Rtpmap& r : rtpmaps)
            if (r.media_index == i) by_pt[static_cast<std::size_t>(r.codec.payload_type)] = &r;
        for (int pt : m.formats) {
            if (const Rtpmap* found = by_pt[static_cast<std::size_t>(pt)]; found != nullptr) m.codecs.push_back(found->codec);
            else if (auto s = static_codec(pt)) m.codecs.push_back(*s);
        }
    }
    return sdp;
}

std::string make_sdp_offer(const SdpLocal& local, std::uint64_t version, MediaDirection direction) {
    std::string out = session_header(local, version);
    std::string m = "m=audio " + std::to_string(local.audio_port) + " RTP/AVP";
    for (const SdpCodec& c : local.codecs) m += ' ' + std::to_string(c.payload_type);
    append_line(out, m);
    append_codec_lines(out, local.codecs);
    append_line(out, "a=" + std::string(to_string(direction)));
    return out;
}

std::expected<std::string, ParseError> make_sdp_answer(const SdpLocal& local, std::uint64_t version, const Sdp& offer) {
    return make_sdp_answer(local, version, offer, MediaDirection::sendrecv);
}

std::expected<std::string, ParseError> make_sdp_answer(const SdpLocal& local, std::uint64_t version, const Sdp& offer,
                                                       MediaDirection local_direction) {
    std::string out = session_header(local, version);
    bool accepted = false;
    for (const SdpMedia& m : offer.media) {
        std::vector<SdpCodec> common;
        bool profile_ok = false;
        for (const std::string& p : local.profiles) profile_ok = profile_ok || iequals(p, m.proto);
        if (!accepted && m.media == "audio" && m.port != 0 && profile_ok) {
            // RFC 3264 §6.1: keep the offerer's payload type numbers, in the offer's order.
            for (const SdpCodec& offered : m.codecs)
                for (const SdpCodec& mine : local.codecs)
                    if (same_codec(offered, mine)) {
                        common.push_back(offered);
                        break;
                    }
            bool has_audio = false;
            for (const SdpCodec& c : common) has_audio = has_audio || !is_auxiliary(c);
            if (!has_audio) common.clear();
        }
        if (common.empty()) {
            // RFC 3264 §6: a rejected stream keeps its m-line with port 0 (formats as offered).
            append_line(out, "m=" + m.media + " 0 " + m.proto + ' ' + (m.format_text.empty() ? std::string("0") : m.format_text));
            continue;
        }
        accepted = true;
        std::string line = "m=audio " + std::to_string(local.audio_port) + ' ' + m.proto;
        for (const SdpCodec& c : common) line += ' ' + std::to_string(c.payload_type);
        append_line(out, line);
        append_codec_lines(out, common);
        append_line(out, "a=" + std::string(to_string(answer_direction(effective_offer_direction(m), local_direction))));
    }
    if (!accepted)
        return std::unexpected(sdp_error(ErrorCode::bad_token, 0, "no acceptable audio stream in the offer", 488));
    return out;
}

MediaDirection audio_direction(const Sdp& sdp) noexcept {
    for (const SdpMedia& m : sdp.media)
        if (m.media == "audio" && m.port != 0) return m.direction;
    return MediaDirection::sendrecv;
}

}  // namespace referkit
