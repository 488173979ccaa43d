// SPDX-License-Identifier: MIT
// A small streaming JSON writer for the CLI's --json output: objects,
// arrays, strings (escaped per RFC 8259), integers, booleans, null. Output
// is indented by two spaces and ends with a newline, so it reads well and
// parses everywhere.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "numakeep/nodemask.hpp"

namespace numakeep::cli {

class JsonWriter {
  public:
    void begin_object() { open('{'); }
    void end_object() { close('}'); }
    void begin_array() { open('['); }
    void end_array() { close(']'); }

    // The key of the next value inside an object.
    JsonWriter& key(std::string_view k) {
        separate();
        string_literal(k);
        out_ += ": ";
        after_key_ = true;
        return *this;
    }
    void value(std::string_view s) {
        separate();
        string_literal(s);
    }
    void value(const char* s) { value(std::string_view(s)); }
    void value(bool b) {
        separate();
        out_ += b ? "true" : "false";
    }
    void value(std::int64_t v) {
        separate();
        out_ += std::to_string(v);
    }
    void value(std::uint64_t v) {
        separate();
        out_ += std::to_string(v);
    }
    void value(int v) { value(static_cast<std::int64_t>(v)); }
    void value(unsigned v) { value(static_cast<std::uint64_t>(v)); }
    void value(double v) {
        separate();
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.3f", v);
        out_ += buf;
    }
    void null() {
        separate();
        out_ += "null";
    }
    // A node set as an array of node numbers: [0, 1, 2, 3].
    // Written on one line.
    void value(const Nodemask& m) {
        separate();
        out_ += '[';
        for (int n = m.first(); n >= 0; n = m.next(static_cast<unsigned>(n) + 1)) {
            if (n != m.first()) out_ += ", ";
            out_ += std::to_string(n);
        }
        out_ += ']';
    }

    // The finished document, with a trailing newline.
    std::string str() const { return out_ + "\n"; }

  private:
    struct Level {
        char close;
        bool has_items;
    };

    void open(char c) {
        separate();
        out_ += c;
        stack_.push_back({c == '{' ? '}' : ']', false});
    }
    void close(char c) {
        bool had = !stack_.empty() && stack_.back().has_items;
        stack_.pop_back();
        if (had) newline();
        out_ += c;
    }
    // Comma and indentation before an item; nothing right after a key.
    void separate() {
        if (after_key_) {
            after_key_ = false;
            return;
        }
        if (stack_.empty()) return;
        if (stack_.back().has_items) out_ += ',';
        stack_.back().has_items = true;
        newline();
    }
    void newline() {
        out_ += '\n';
        out_.append(stack_.size() * 2, ' ');
    }
    // Length of the valid UTF-8 sequence starting at s[i], or 0.
    static std::size_t utf8_length(std::string_view s, std::size_t i) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
        if (len == 0 || c > 0xf4 || i + len > s.size()) return 0;
        for (std::size_t k = 1; k < len; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
        return len;
    }
    // Escapes what JSON requires; bytes that are not UTF-8 (a process may
    // name itself anything) become U+FFFD so the document always parses.
    void string_literal(std::string_view s) {
        out_ += '"';
        for (std::size_t i = 0; i < s.size(); ++i) {
            char ch = s[i];
            auto c = static_cast<unsigned char>(ch);
            if (c >= 0x80) {
                std::size_t len = utf8_length(s, i);
                if (len == 0) {
                    out_ += "\\ufffd";
                } else {
                    out_.append(s.substr(i, len));
                    i += len - 1;
                }
                continue;
            }
            switch (c) {
                case '"':
                    out_ += "\\\"";
                    break;
                case '\\':
                    out_ += "\\\\";
                    break;
                case '\n':
                    out_ += "\\n";
                    break;
                case '\t':
                    out_ += "\\t";
                    break;
                case '\r':
                    out_ += "\\r";
                    break;
                default:
                    if (c < 0x20) {
                        char buf[8];
                        std::snprintf(buf, sizeof buf, "\\u%04x", c);
                        out_ += buf;
                    } else {
                        out_ += ch;
                    }
            }
        }
        out_ += '"';
    }

    std::string out_;
    std::vector<Level> stack_;
    bool after_key_ = false;
};

}  // namespace numakeep::cli
