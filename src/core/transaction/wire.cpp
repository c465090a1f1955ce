#include "wire.hpp"

#include <charconv>
#include <cstring>
#include <vector>

#include "referkit/core/header_id.hpp"
#include "referkit/core/headers.hpp"

namespace referkit::txn {

void append_uint(std::string& out, std::uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::string_view strip_brackets(std::string_view host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return host.substr(1, host.size() - 2);
    return host;
}

// A header value the layer may copy into a message: no CR, LF, NUL or other control byte but HT.
bool clean_value(std::string_view v) {
    for (char c : v) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
    }
    return true;
}

// The first element of a (possibly comma-separated) Via value, and the others.
std::vector<std::string_view> via_elements(std::string_view value) {
    if (value.empty() || std::memchr(value.data(), ',', value.size()) == nullptr) return {value};  // the usual: one element
    auto parts = split_list(value);
    if (!parts) return {value};
    return *parts;
}

const HeaderField* first_of(const Message& m, HeaderId id) { return m.find(id); }

void copy_header(std::string& out, const Message& m, HeaderId id) {
    if (const HeaderField* f = first_of(m, id)) append_header(out, canonical_name(id), f->value);
}

}  // namespace

void append_lower(std::string& out, std::string_view s) {
    for (char c : s) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c);
}

std::string lower(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    append_lower(out, s);
    return out;
}

std::string unfold(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    append_unfolded(out, value);
    return out;
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
    out.append(name);
    out.append(": ");
    append_unfolded(out, value);
    out.append("\r\n");
}

void make_via_into(std::string& out, Transport t, std::string_view sent_by, std::string_view branch) {
    out.assign("SIP/2.0/");
    out.append(transport_name(t));
    out.push_back(' ');
    out.append(sent_by);
    out.append(";branch=");
    out.append(branch);
    out.append(";rport");
}

std::string make_via(Transport t, std::string_view sent_by, std::string_view branch) {
    std::string v;
    make_via_into(v, t, sent_by, branch);
    return v;
}

std::optional<std::string> insert_via(std::string_view request, std::string_view via) {
    const std::size_t eol = request.find("\r\n");
    if (eol == std::string_view::npos || eol == 0) return std::nullopt;
    std::string out;
    out.reserve(request.size() + via.size() + 8);
    out.append(request.substr(0, eol + 2));
    out.append("Via: ");
    out.append(via);
    out.append("\r\n");
    out.append(request.substr(eol + 2));
    return out;
}

void append_response_top_via(std::string& out, const Via& via, const Source& from) {
    out.append(via.protocol).append("/").append(via.version).append("/").append(via.transport).append(" ");
    out.append(via.host);
    if (via.port != 0) {
        out.push_back(':');
        append_uint(out, via.port);
    }
    bool rport = false;
    for (const Param& p : via.params) {
        if (iequals(p.name, "received")) continue;  // ours replaces it (§18.2.1)
        out.push_back(';');
        out.append(p.name);
        if (iequals(p.name, "rport")) {
            rport = true;
            out.push_back('=');
            append_uint(out, from.remote.port);  // RFC 3581 §4: the source port, whatever the peer wrote
            continue;
        }
        if (p.has_value) out.append("=").append(p.value);
    }
    // §18.2.1: received when sent-by differs from the source; RFC 3581 §4: always with rport.
    if (rport || !iequals(strip_brackets(via.host), from.remote.host)) out.append(";received=").append(from.remote.host);
}

std::string response_top_via(const Via& via, const Source& from) {
    std::string out;
    append_response_top_via(out, via, from);
    return out;
}

Destination response_destination(const Via& via, const Source& from) {
    Destination d;
    d.transport = from.transport;
    const std::uint16_t port = via.port != 0 ? via.port : default_port(from.transport);
    if (is_reliable(from.transport)) {
        // §18.2.2: the same connection; if it closed, the received address and the sent-by port.
        d.connection = from.connection;
        d.remote = Endpoint{from.remote.host, port};
    } else if (!via.maddr.empty()) {
        d.remote = Endpoint{std::string(strip_brackets(via.maddr)), port};  // §18.2.2 maddr
    } else if (via.has_rport) {
        d.remote = from.remote;  // RFC 3581 §4: source address and port
    } else {
        d.remote = Endpoint{from.remote.host, port};  // §18.2.2: received, sent-by port
    }
    return d;
}

ResponseHead response_head(const Message& request, const Source& from) {
    ResponseHead head;
    std::string& out = head.text;
    out.reserve(request.size() / 2 + 64);
    bool first_line = true;
    for (const HeaderField& f : request.headers()) {
        if (f.id != HeaderId::via) continue;
        if (first_line) {
            first_line = false;
            out.append("Via: ");
            append_response_top_via(out, request.top_via(), from);
            out.append("\r\n");
            if (!f.value.empty() && std::memchr(f.value.data(), ',', f.value.size()) != nullptr) {  // more elements on the line
                auto parts = via_elements(f.value);
                for (std::size_t i = 1; i < parts.size(); ++i) append_header(out, "Via", parts[i]);
            }
        } else {
            append_header(out, "Via", f.value);
        }
    }
    head.vias_end = static_cast<std::uint32_t>(out.size());
    copy_header(out, request, HeaderId::from);
    copy_header(out, request, HeaderId::call_id);
    copy_header(out, request, HeaderId::cseq);
    head.rest_end = static_cast<std::uint32_t>(out.size());
    if (const HeaderField* to = request.find(HeaderId::to)) append_unfolded(out, to->value);
    head.to_end = static_cast<std::uint32_t>(out.size());
    head.to_has_tag = !request.to().tag.empty();
    if (const HeaderField* ts = request.find(HeaderId::timestamp)) append_unfolded(out, ts->value);
    return head;
}

std::optional<std::string> build_response(const ResponseHead& head, const ResponseSpec& spec,
                                          std::string_view extra_header_line) {
    if (spec.status < 100 || spec.status > 699) return std::nullopt;
    std::string_view reason = spec.reason.empty() ? reason_phrase(spec.status) : spec.reason;
    if (reason.empty()) reason = "Unknown";
    if (!clean_value(reason) || !clean_value(spec.to_tag) || !clean_value(spec.content_type)) return std::nullopt;
    if (!spec.to_tag.empty() && !is_token(spec.to_tag)) return std::nullopt;
    std::string out;
    out.reserve(head.text.size() + spec.body.size() + 128);
    out.append("SIP/2.0 ");
    append_uint(out, static_cast<std::uint64_t>(spec.status));
    out.push_back(' ');
    out.append(reason);
    out.append("\r\n");
    out.append(head.vias());
    out.append("To: ");
    out.append(head.to());
    if (!head.to_has_tag && !spec.to_tag.empty() && spec.status != 100) out.append(";tag=").append(spec.to_tag);
    out.append("\r\n");
    out.append(head.rest());
    if (spec.status == 100 && !head.timestamp().empty()) append_header(out, "Timestamp", head.timestamp());
    out.append(extra_header_line);
    for (const auto& [name, value] : spec.headers) {
        if (!is_token(name) || !clean_value(value)) return std::nullopt;
        const HeaderId id = lookup_header(name);
        // The layer writes these (§8.2.6.2, §20.14, §20.15); a second copy would contradict it.
        if (id == HeaderId::via || id == HeaderId::from || id == HeaderId::to || id == HeaderId::call_id ||
            id == HeaderId::cseq || id == HeaderId::content_length || id == HeaderId::content_type)
            return std::nullopt;
        out.append(id == HeaderId::other ? name : canonical_name(id)).append(": ").append(value).append("\r\n");
    }
    if (!spec.content_type.empty()) out.append("Content-Type: ").append(spec.content_type).append("\r\n");
    out.append("Content-Length: ");
    append_uint(out, spec.body.size());
    out.append("\r\n\r\n");
    out.append(spec.body);
    return out;
}

RequestFields::Span RequestFields::add(std::string_view v, bool unfolded) {
    const auto at = static_cast<std::uint32_t>(storage_.size());
    if (unfolded) append_unfolded(storage_, v);
    else storage_.append(v);
    return Span{at, static_cast<std::uint32_t>(storage_.size() - at)};
}

RequestFields fields_of(const OutgoingRequest& r) {
    RequestFields f;
    std::size_t size = r.method.size() + r.request_uri.size() + r.from.size() + r.to.size() + r.call_id.size();
    for (const std::string& route : r.routes) size += route.size();
    f.storage_.reserve(size);
    f.method_ = f.add(r.method);
    f.request_uri_ = f.add(r.request_uri);
    f.from_ = f.add(r.from);
    f.to_ = f.add(r.to);
    f.call_id_ = f.add(r.call_id);
    for (const std::string& route : r.routes) f.routes_.push_back(f.add(route));
    f.cseq = r.cseq;
    return f;
}

RequestFields fields_of(const Message& m) {
    RequestFields f;
    f.method_ = f.add(m.method_text());
    f.request_uri_ = f.add(m.request_uri().text);
    if (const HeaderField* h = m.find(HeaderId::from)) f.from_ = f.add(h->value, true);
    if (const HeaderField* h = m.find(HeaderId::to)) f.to_ = f.add(h->value, true);
    f.call_id_ = f.add(m.call_id());
    for (const HeaderField& h : m.headers())
        if (h.id == HeaderId::route) f.routes_.push_back(f.add(h.value, true));
    f.cseq = m.cseq().number;
    return f;
}

std::string build_ack(const RequestFields& request, std::string_view top_via, const Message& response) {
    std::string out;
    out.reserve(512);
    out.append("ACK ").append(request.request_uri()).append(" SIP/2.0\r\n");
    append_header(out, "Via", top_via);  // §17.1.1.3: only the request's top Via
    for (std::size_t i = 0; i < request.route_count(); ++i) append_header(out, "Route", request.route(i));
    append_header(out, "From", request.from());
    copy_header(out, response, HeaderId::to);  // the response's To, with its tag
    append_header(out, "Call-ID", request.call_id());
    out.append("CSeq: ");
    append_uint(out, request.cseq);
    out.append(" ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
    return out;
}

OutgoingRequest cancel_request(const RequestFields& request) {
    // §9.1: the CANCEL's Request-URI, Call-ID, To, CSeq number and From equal the request's, and it
    // carries the request's Route header fields.
    std::vector<std::string> routes;
    routes.reserve(request.route_count());
    for (std::size_t i = 0; i < request.route_count(); ++i) routes.emplace_back(request.route(i));
    return OutgoingRequest{.method = "CANCEL", .request_uri = std::string(request.request_uri()),
                           .routes = std::move(routes), .max_forwards = 70, .from = std::string(request.from()),
                           .to = std::string(request.to()), .call_id = std::string(request.call_id()),
                           .cseq = request.cseq, .headers = {}, .content_type = {}, .body = {}};
}

std::optional<Message> synthesise_response(const RequestFields& request, std::string_view top_via, int status) {
    std::string out = "SIP/2.0 ";
    append_uint(out, static_cast<std::uint64_t>(status));
    out.append(" ").append(reason_phrase(status)).append("\r\n");
    append_header(out, "Via", top_via);
    append_header(out, "From", request.from());
    append_header(out, "To", request.to());
    append_header(out, "Call-ID", request.call_id());
    out.append("CSeq: ");
    append_uint(out, request.cseq);
    out.append(" ").append(request.method()).append("\r\n");
    out.append("Content-Length: 0\r\n\r\n");
    auto m = Message::parse(std::string_view(out));
    if (!m) return std::nullopt;
    return std::move(*m);
}

std::string stateless_tag(std::string_view call_id, std::string_view from_tag, std::string_view branch) {
    // FNV-1a 64 over the three fields, each followed by a separator that cannot occur in them.
    std::uint64_t h = 0xcbf29ce484222325ULL;
    auto mix = [&h](std::string_view s) {
        for (char c : s) {
            h ^= static_cast<unsigned char>(c);
            h *= 0x100000001b3ULL;
        }
        h ^= 0xff;
        h *= 0x100000001b3ULL;
    };
    mix(call_id);
    mix(from_tag);
    mix(branch);
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = "0123456789abcdef"[h & 0xf];
        h >>= 4;
    }
    return out;
}

bool starts_with_sip_version(std::string_view start) {
    return start.size() >= 4 && iequals(start.substr(0, 4), "SIP/");  // the parser accepts any case
}

std::optional<MalformedAnswer> answer_malformed(std::string_view bytes, const ParseError& error, const Source& from) {
    while (bytes.starts_with("\r\n")) bytes.remove_prefix(2);
    // Lines, with folded continuations joined.
    struct Line { std::string_view name; std::string value; };
    std::vector<Line> lines;
    std::size_t pos = bytes.find('\n');
    if (pos == std::string_view::npos) return std::nullopt;
    const std::string_view start = trim(bytes.substr(0, pos > 0 && bytes[pos - 1] == '\r' ? pos - 1 : pos));
    if (starts_with_sip_version(start)) return std::nullopt;  // a response: never answered
    const std::size_t sp = start.find(' ');
    if (sp == std::string_view::npos || start.substr(0, sp) == "ACK") return std::nullopt;  // §17: no answer to ACK
    ++pos;
    constexpr std::size_t max_lines = 512;
    while (pos < bytes.size() && lines.size() < max_lines) {
        std::size_t end = bytes.find('\n', pos);
        if (end == std::string_view::npos) end = bytes.size();
        std::string_view line = bytes.substr(pos, end - pos);
        pos = end + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) break;
        if (line.front() == ' ' || line.front() == '\t') {
            if (!lines.empty()) lines.back().value.append(" ").append(trim(line));
            continue;
        }
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        const std::string_view name = trim(line.substr(0, colon));
        if (!is_token(name)) continue;
        lines.push_back(Line{name, std::string(trim(line.substr(colon + 1)))});
    }
    std::vector<std::string_view> vias;
    const std::string* from_v = nullptr;
    const std::string* to_v = nullptr;
    const std::string* call_id = nullptr;
    const std::string* cseq = nullptr;
    for (const Line& l : lines) {
        if (!clean_value(l.value)) continue;
        const HeaderId id = lookup_header(l.name);
        if (id == HeaderId::via) vias.push_back(l.value);
        else if (id == HeaderId::from && !from_v) from_v = &l.value;
        else if (id == HeaderId::to && !to_v) to_v = &l.value;
        else if (id == HeaderId::call_id && !call_id) call_id = &l.value;
        else if (id == HeaderId::cseq && !cseq) cseq = &l.value;
    }
    if (vias.empty() || !from_v || !to_v || !call_id || !cseq || vias.front().empty()) return std::nullopt;
    if (auto c = parse_cseq(*cseq); c && c->method == Method::ack) return std::nullopt;
    int status = error.status;
    if (status < 300 || status > 699) status = 400;
    MalformedAnswer answer;
    std::string& out = answer.bytes;
    out.append("SIP/2.0 ");
    append_uint(out, static_cast<std::uint64_t>(status));
    out.append(" ").append(reason_phrase(status)).append("\r\n");
    auto top_parts = via_elements(vias.front());
    auto top = parse_via(top_parts.front());
    auto to = parse_name_addr(*to_v);
    auto from_addr = parse_name_addr(*from_v);
    // §8.2.7: the same request gets the same tag, so it is derived from the request, not drawn.
    const std::string to_tag = stateless_tag(*call_id, from_addr ? from_addr->tag : std::string_view(*from_v),
                                             top ? top->branch : top_parts.front());
    if (top) {
        append_header(out, "Via", response_top_via(*top, from));
        answer.destination = response_destination(*top, from);
    } else {
        append_header(out, "Via", top_parts.front());
        answer.destination = Destination{from.transport, from.remote, from.connection};
    }
    for (std::size_t i = 1; i < top_parts.size(); ++i) append_header(out, "Via", top_parts[i]);
    for (std::size_t i = 1; i < vias.size(); ++i) append_header(out, "Via", vias[i]);
    append_header(out, "From", *from_v);
    out.append("To: ").append(*to_v);
    if (to && to->tag.empty()) out.append(";tag=").append(to_tag);
    out.append("\r\n");
    append_header(out, "Call-ID", *call_id);
    append_header(out, "CSeq", *cseq);
    out.append("Content-Length: 0\r\n\r\n");
    return answer;
}

}  // namespace referkit::txn
