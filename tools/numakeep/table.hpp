// SPDX-License-Identifier: MIT
// Plain-text tables for ps and show, sized to the terminal: when a row does
// not fit, the columns marked shrinkable (command, cgroup, node lists) give
// up width, widest first, and a cut cell ends in "~". Off a terminal
// nothing is cut, so pipes and files get whole values.
#pragma once

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

namespace numakeep::cli {

// Columns available on stdout: TIOCGWINSZ on a terminal, 80 on a terminal
// that does not say, 0 (no limit) when stdout is not a terminal.
inline std::size_t terminal_width() {
    if (!isatty(STDOUT_FILENO)) return 0;
    struct winsize ws {};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return 80;
}

class Table {
  public:
    struct Column {
        std::string header;
        bool right_align = false;
        bool shrinkable = false;
        std::size_t min_width =
            6;  // a shrinkable column never gets narrower (its header is cut too)
    };

    explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

    void add_row(std::vector<std::string> cells) {
        cells.resize(columns_.size());
        rows_.push_back(std::move(cells));
    }
    bool empty() const { return rows_.empty(); }

    // The table as text, one line per row after the header; `width` 0 means
    // no limit.
    std::string render(std::size_t width) const {
        std::vector<std::size_t> w(columns_.size());
        for (std::size_t c = 0; c < columns_.size(); ++c) {
            w[c] = columns_[c].header.size();
            for (const auto& row : rows_) w[c] = std::max(w[c], row[c].size());
        }
        if (width > 0) fit(w, width);
        std::string out;
        auto line = [&](const std::vector<std::string>& cells) {
            std::string l;
            for (std::size_t c = 0; c < cells.size(); ++c) {
                std::string cell = cut(cells[c], w[c]);
                std::string pad(w[c] - cell.size(), ' ');
                if (c) l += "  ";
                l += columns_[c].right_align ? pad + cell : cell + pad;
            }
            while (!l.empty() && l.back() == ' ') l.pop_back();
            out += l + "\n";
        };
        std::vector<std::string> header;
        for (const auto& col : columns_) header.push_back(col.header);
        line(header);  // headers are cut like cells when their column shrinks
        for (const auto& row : rows_) line(row);
        return out;
    }

  private:
    static std::string cut(const std::string& s, std::size_t w) {
        if (s.size() <= w) return s;
        if (w == 0) return {};
        return s.substr(0, w - 1) + "~";
    }

    // Narrows the widest shrinkable column, one character at a time, until
    // the row fits or nothing can give more.
    void fit(std::vector<std::size_t>& w, std::size_t width) const {
        auto total = [&] {
            std::size_t t = 2 * (w.size() ? w.size() - 1 : 0);
            for (auto x : w) t += x;
            return t;
        };
        while (total() > width) {
            std::size_t best = w.size();
            for (std::size_t c = 0; c < w.size(); ++c) {
                if (columns_[c].shrinkable && w[c] > columns_[c].min_width &&
                    (best == w.size() || w[c] > w[best]))
                    best = c;
            }
            if (best == w.size()) return;
            --w[best];
        }
    }

    std::vector<Column> columns_;
    std::vector<std::vector<std::string>> rows_;
};

}  // namespace numakeep::cli
