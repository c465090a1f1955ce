#include "referkit/core/writer.hpp"

#include <charconv>

#include "parser/lex.hpp"

namespace referkit {
namespace {

void append_number(std::string& out, std::uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

// Joins folded lines: every line break and the white space around it become one SP.
void append_unfolded(std::string& out, std::string_view v) {
    std::size_t i = 0;
    while (i < v.size()) {
        char c = v[i];
        if (c == '\r' || c == '\n') {
            while (!out.empty() && lex::is_ws(out.back())) out.pop_back();
            while (i < v.size() && (v[i] == '\r' || v[i] == '\n' || lex::is_ws(v[i]))) ++i;
            out += ' ';
            continue;
        }
        out += c;
        ++i;
    }
}

}  // namespace

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
bool clean_value(std::string_view v) {
    for (char c : v)
        if (c == '\r' || c == '\n' || c == '\0') return false;
    return true;
}
}  // namespace

MessageWriter MessageWriter::request(std::string_view method, std::string_view request_uri) {
    MessageWriter w;
    if (!is_token(method)) w.fail("method must be a token");
    if (request_uri.empty() || !parse_uri(request_uri, UriContext::request_uri)) w.fail("malformed Request-URI");
    w.out_.reserve(512);
    w.out_.append(method).append(" ").append(request_uri).append(" SIP/2.0\r\n");
    return w;
}

MessageWriter MessageWriter::response(int status, std::string_view reason) {
    MessageWriter w;
    if (status < 100 || status > 699) w.fail("status must be 100..699");
    if (reason.empty()) reason = reason_phrase(status);
    for (char c : reason)
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
            w.fail("reason phrase must not contain control characters");
            break;
        }
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
    if (id == HeaderId::other) {
        fail("HeaderId::other needs a name");
        return *this;
    }
    if (id == HeaderId::content_length) return *this;  // always computed
    if (!clean_value(value)) {
        fail(std::string("value of ") + std::string(canonical_name(id)) + " contains CR, LF or NUL");
        return *this;
    }
    out_.append(canonical_name(id)).append(": ").append(value).append("\r\n");
    return *this;
}

MessageWriter& MessageWriter::header(std::string_view name, std::string_view value) {
    if (!is_token(name)) {
        fail("header name must be a token");
        return *this;
    }
    HeaderId id = lookup_header(name);
    if (id != HeaderId::other) return header(id, value);
    if (!clean_value(value)) {
        fail(std::string("value of ") + std::string(name) + " contains CR, LF or NUL");
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
    if (!content_type.empty()) {
        if (!parse_content_type(content_type)) fail("malformed Content-Type");
        content_type_ = content_type;
    }
    body_.assign(bytes);
    return *this;
}

std::expected<std::string, BuildError> MessageWriter::finish() {
    if (!error_.empty()) return std::unexpected(BuildError{std::move(error_)});
    if (!content_type_.empty()) out_.append("Content-Type: ").append(content_type_).append("\r\n");
    out_.append("Content-Length: ");
    append_number(out_, body_.size());
    out_.append("\r\n\r\n");
    out_.append(body_);
    return std::move(out_);
}

}  // namespace referkit
