#include "referkit/core/writer.hpp"

#include <cassert>
#include <charconv>
#include <cstring>

#include "lex.hpp"

namespace referkit {
namespace {

void append_number(std::string& out, std::uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

}  // namespace

void append_unfolded(std::string& out, std::string_view v) {
    // Two memchr passes find the usual unfolded value (a set search such as find_first_of costs a
    // call per byte).
    if (v.empty() || (std::memchr(v.data(), '\r', v.size()) == nullptr && std::memchr(v.data(), '\n', v.size()) == nullptr)) {
        out.append(v);
        return;
    }
    const std::size_t start = out.size();  // white space before a break is trimmed from here on only
    std::size_t i = 0;
    while (i < v.size()) {
        char c = v[i];
        if (c == '\r' || c == '\n') {
            while (out.size() > start && lex::is_ws(out.back())) out.pop_back();
            while (i < v.size() && (v[i] == '\r' || v[i] == '\n' || lex::is_ws(v[i]))) ++i;
            out += ' ';
            continue;
        }
        out += c;
        ++i;
    }
}

void print(const Message& m, std::string& out) {
    out.reserve(out.size() + m.bytes().size() + 32);
    if (m.is_request()) {
        out.append(m.method_text());
        out += ' ';
        out.append(m.request_uri().text);
        out.append(" SIP/2.0\r\n");
    } else {
        out.append("SIP/2.0 ");
        append_number(out, static_cast<std::uint64_t>(m.status()));
        out += ' ';
        out.append(m.reason());
        out.append("\r\n");
    }
    bool wrote_length = false;
    for (const HeaderField& h : m.headers()) {
        if (h.id == HeaderId::content_length) {
            if (wrote_length) continue;
            out.append("Content-Length: ");
            append_number(out, m.body().size());
            out.append("\r\n");
            wrote_length = true;
            continue;
        }
        out.append(h.id == HeaderId::other ? h.name : canonical_name(h.id));
        out.append(": ");
        if (h.folded) append_unfolded(out, h.value);
        else out.append(h.value);
        out.append("\r\n");
    }
    if (!wrote_length) {
        out.append("Content-Length: ");
        append_number(out, m.body().size());
        out.append("\r\n");
    }
    out.append("\r\n");
    out.append(m.body());
}

std::string print(const Message& m) {
    std::string out;
    print(m, out);
    return out;
}

namespace {
// Writes into storage sized beforehand; inlined, so a literal's copy is a few moves.
struct Cursor {
    char* p;
    [[gnu::always_inline]] Cursor& operator<<(std::string_view v) {
        if (!v.empty()) std::memcpy(p, v.data(), v.size());
        p += v.size();
        return *this;
    }
};

// Values hold no control characters but HTAB (RFC 3261 §25.1 TEXT-UTF8char / LWS; CR and LF
// would start a new header line).
bool clean_value(std::string_view v) {
    for (char c : v) {
        auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
    }
    return true;
}
}  // namespace

MessageWriter MessageWriter::request(std::string_view method, std::string_view request_uri) {
    MessageWriter w;
    if (!is_token(method)) w.fail("method must be a token");
    else if (request_uri.empty() || !parse_uri(request_uri, UriContext::request_uri)) w.fail("malformed Request-URI");
    if (!w.usable()) return w;
    w.out_.reserve(512);
    w.out_.append(method).append(" ").append(request_uri).append(" SIP/2.0\r\n");
    return w;
}

MessageWriter MessageWriter::response(int status, std::string_view reason) {
    MessageWriter w;
    if (reason.empty()) reason = reason_phrase(status);
    if (status < 100 || status > 699) w.fail("status must be 100..699");
    else if (!clean_value(reason)) w.fail("reason phrase must not contain control characters");
    if (!w.usable()) return w;
    w.out_.reserve(512);
    w.out_.append("SIP/2.0 ");
    append_number(w.out_, static_cast<std::uint64_t>(status));
    w.out_.append(" ").append(reason).append("\r\n");
    return w;
}

void MessageWriter::fail(std::string what) {
    if (error_.empty()) error_ = std::move(what);
}

MessageWriter& MessageWriter::header(HeaderId id, std::string_view value) {
    if (!usable()) return *this;
    if (id == HeaderId::other) {
        fail("HeaderId::other needs a name");
        return *this;
    }
    if (id == HeaderId::content_length) return *this;  // always computed
    if (!clean_value(value)) {
        fail(std::string("value of ") + std::string(canonical_name(id)) + " contains a control character");
        return *this;
    }
    if (is_single_header(id) && written_[static_cast<std::size_t>(id)]++) {
        fail(std::string(canonical_name(id)) + " may appear only once");
        return *this;
    }
    out_.append(canonical_name(id)).append(": ").append(value).append("\r\n");
    return *this;
}

MessageWriter& MessageWriter::header(std::string_view name, std::string_view value) {
    if (!usable()) return *this;
    if (!is_token(name)) {
        fail("header name must be a token");
        return *this;
    }
    HeaderId id = lookup_header(name);
    if (id != HeaderId::other) return header(id, value);
    if (!clean_value(value)) {
        fail(std::string("value of ") + std::string(name) + " contains a control character");
        return *this;
    }
    out_.append(name).append(": ").append(value).append("\r\n");
    return *this;
}

MessageWriter& MessageWriter::header(HeaderId id, std::uint64_t value) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    return header(id, std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

MessageWriter& MessageWriter::body(std::string_view content_type, std::string_view bytes) {
    if (!usable()) return *this;
    if (!content_type.empty()) {
        if (!clean_value(content_type) || !parse_content_type(content_type)) {
            fail("malformed Content-Type");
            return *this;
        }
        if (written_[static_cast<std::size_t>(HeaderId::content_type)]) {
            fail("Content-Type may appear only once");
            return *this;
        }
        content_type_ = content_type;
    }
    body_.assign(bytes);
    return *this;
}

std::expected<std::string, BuildError> MessageWriter::finish() {
    if (finished_) return std::unexpected(BuildError{"finish() was already called"});
    finished_ = true;
    std::string error = std::move(error_);
    std::string out = std::move(out_);
    std::string type = std::move(content_type_);
    std::string body = std::move(body_);
    error_.clear();
    out_.clear();
    content_type_.clear();
    body_.clear();
    if (!error.empty()) return std::unexpected(BuildError{std::move(error)});
    if (!type.empty()) out.append("Content-Type: ").append(type).append("\r\n");
    out.append("Content-Length: ");
    append_number(out, body.size());
    out.append("\r\n\r\n");
    out.append(body);
    return out;
}

}  // namespace referkit

namespace referkit {

std::expected<void, BuildError> write_request(const OutgoingRequest& r, std::string_view via, std::string& out) {
    if (!is_token(r.method)) return std::unexpected(BuildError{"method must be a token"});
    if (r.request_uri.empty() || !parse_uri(r.request_uri, UriContext::request_uri))
        return std::unexpected(BuildError{"malformed Request-URI"});
    if (r.from.empty() || r.to.empty() || r.call_id.empty())
        return std::unexpected(BuildError{"From, To and Call-ID are required"});
    for (std::string_view v : {std::string_view(via), std::string_view(r.from), std::string_view(r.to),
                               std::string_view(r.call_id), std::string_view(r.content_type)})
        if (!clean_value(v)) return std::unexpected(BuildError{"a value contains a control character"});
    for (const std::string& route : r.routes)
        if (!clean_value(route)) return std::unexpected(BuildError{"value of Route contains a control character"});
    if (!r.content_type.empty() && !parse_content_type(r.content_type))
        return std::unexpected(BuildError{"malformed Content-Type"});
    std::array<std::uint8_t, header_id_count> seen{};
    for (const auto& [name, value] : r.headers) {
        if (!is_token(name)) return std::unexpected(BuildError{"header name must be a token"});
        if (!clean_value(value))
            return std::unexpected(BuildError{"value of " + name + " contains a control character"});
        const HeaderId id = lookup_header(name);
        if (id == HeaderId::via || id == HeaderId::route || id == HeaderId::max_forwards || id == HeaderId::from ||
            id == HeaderId::to || id == HeaderId::call_id || id == HeaderId::cseq || id == HeaderId::content_type ||
            id == HeaderId::content_length)
            return std::unexpected(BuildError{name + " is written from the request's own fields"});
        if (id != HeaderId::other && is_single_header(id) && seen[static_cast<std::size_t>(id)]++ != 0)
            return std::unexpected(BuildError{std::string(canonical_name(id)) + " may appear only once"});
    }
    // One pass to size the request, one to write it: a single allocation, no append calls.
    char max_forwards[24], cseq[24], length[24];
    const std::string_view mf(max_forwards, static_cast<std::size_t>(
                                                std::to_chars(max_forwards, max_forwards + 24, r.max_forwards).ptr - max_forwards));
    const std::string_view cs(cseq, static_cast<std::size_t>(std::to_chars(cseq, cseq + 24, r.cseq).ptr - cseq));
    const std::string_view cl(length, static_cast<std::size_t>(std::to_chars(length, length + 24, r.body.size()).ptr - length));
    std::size_t size = r.method.size() + 1 + r.request_uri.size() + 10;  // "M uri SIP/2.0\r\n"
    if (!via.empty()) size += 5 + via.size() + 2;
    for (const std::string& route : r.routes) size += 7 + route.size() + 2;
    size += 14 + mf.size() + 2 + 6 + r.from.size() + 2 + 4 + r.to.size() + 2 + 9 + r.call_id.size() + 2;
    size += 6 + cs.size() + 1 + r.method.size() + 2;
    for (const auto& [name, value] : r.headers) {
        const HeaderId id = lookup_header(name);
        size += (id == HeaderId::other ? name.size() : canonical_name(id).size()) + 2 + value.size() + 2;
    }
    if (!r.content_type.empty()) size += 14 + r.content_type.size() + 2;
    size += 16 + cl.size() + 4 + r.body.size();
    const std::size_t at = out.size();
    out.resize(at + size);
    Cursor o{out.data() + at};
    o << r.method << " " << r.request_uri << " SIP/2.0\r\n";
    if (!via.empty()) o << "Via: " << via << "\r\n";
    for (const std::string& route : r.routes) o << "Route: " << route << "\r\n";
    o << "Max-Forwards: " << mf << "\r\nFrom: " << r.from << "\r\nTo: " << r.to << "\r\nCall-ID: " << r.call_id;
    o << "\r\nCSeq: " << cs << " " << r.method << "\r\n";
    for (const auto& [name, value] : r.headers) {
        const HeaderId id = lookup_header(name);
        o << (id == HeaderId::other ? std::string_view(name) : canonical_name(id)) << ": " << value << "\r\n";
    }
    if (!r.content_type.empty()) o << "Content-Type: " << r.content_type << "\r\n";
    o << "Content-Length: " << cl << "\r\n\r\n" << r.body;
    assert(o.p == out.data() + out.size());
    return {};
}

}  // namespace referkit
