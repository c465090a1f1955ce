// The referkit command.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

#include "demo.hpp"
#include "json_dump.hpp"
#include "referkit/core/message.hpp"
#include "referkit/core/sipfrag.hpp"
#include "referkit/core/validate.hpp"

namespace {

constexpr int exit_ok = 0;
constexpr int exit_invalid = 1;
constexpr int exit_usage = 2;

int run_parse(const std::string& path, bool sipfrag, bool compact) {
    std::string bytes;
    if (path == "-") {
        bytes.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
        std::ifstream in(path, std::ios::binary);
        if (!in) {
            std::cerr << "referkit parse: cannot open " << path << "\n";
            return exit_usage;
        }
        bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    const int indent = compact ? -1 : 2;
    nlohmann::ordered_json out;
    int rc = exit_ok;
    if (sipfrag) {
        auto f = referkit::parse_sipfrag(bytes);
        if (f) out = referkit::cli::to_json(*f);
        else { out["error"] = referkit::cli::to_json(f.error()); rc = exit_invalid; }
    } else {
        auto m = referkit::Message::parse(bytes);
        if (!m) {
            out["error"] = referkit::cli::to_json(m.error());
            rc = exit_invalid;
        } else {
            out = referkit::cli::to_json(*m);
            // Lazily parsed headers are checked too: a message is valid only if all are.
            if (auto e = referkit::validate_headers(*m)) {
                out["error"] = referkit::cli::to_json(*e);
                rc = exit_invalid;
            }
            if (m->size() < bytes.size()) out["trailing_bytes"] = bytes.size() - m->size();
        }
    }
    std::cout << out.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return rc;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"referkit — SIP call transfer (REFER) from the command line"};
    app.require_subcommand(1);
    app.footer(
        "Exit codes: 0 success; 1 invalid input (parse) or failed transfer; 2 usage error.\n"
        "Examples:\n"
        "  referkit demo\n"
        "  referkit parse message.sip\n"
        "  printf 'SIP/2.0 486 Busy Here\\r\\n' | referkit parse --sipfrag -");

    std::string path = "-";
    bool sipfrag = false, compact = false;
    auto* parse = app.add_subcommand("parse", "Parse a SIP message (or a message/sipfrag body) and print it as JSON");
    parse->add_option("FILE", path, "File to read, or - for standard input")->capture_default_str();
    parse->add_flag("--sipfrag", sipfrag, "Parse a message/sipfrag body (RFC 3420) instead of a whole message");
    parse->add_flag("--compact", compact, "One-line JSON");
    parse->footer(
        "Prints the start line, every header in order (typed fields where known) and the body length,\n"
        "or {\"error\":{offset, code, reason, status}} with the SIP status a UA would answer.\n"
        "Exit: 0 valid, 1 invalid, 2 usage.");

    bool json_lines = false;
    auto* demo = app.add_subcommand("demo", "Show what referkit does today, on loopback, with nothing external");
    demo->add_flag("--json", json_lines, "One JSON object per line");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "referkit: " << e.what() << " (see referkit --help)\n";
        return exit_usage;
    }
    if (parse->parsed()) return run_parse(path, sipfrag, compact);
    if (demo->parsed()) return referkit::cli::run_demo(std::cout, json_lines);
    return exit_usage;
}
