#!/usr/bin/env python3
"""The floor page of bench/ui.sh.

  ui_floor.py JOBS_JSON DIR
      Writes DIR/index.html: the jobs of JOBS_JSON (a GET /jobs answer)
      pre-rendered as the dashboard's jobs view shows them (the same five
      columns, the same classes, the dashboard's style.css, which the
      caller copies into DIR), every job in one table, and DIR/floor.js,
      the least script that makes its filter box work (rows not matching
      get the hidden attribute); and DIR/page100.html, the same page with
      the first 100 jobs only (the jobs view draws 100 rows at a time).
"""
import html
import json
import os
import sys

WORDS = {"SUCCESS": ("succeeded", "\u2713", "st-ok"),
         "FAILURE": ("failed", "\u2717", "st-bad"),
         "STARTED": ("running", "\u25b6", "st-run"),
         "paused": ("paused", "\u2016", "st-warn"),
         "disabled": ("disabled", "\u2298", "st-off"),
         "never": ("never run", "\u2014", "st-off")}

FILTER = """\
const f = document.getElementById('job-filter');
const rows = [...document.querySelectorAll('tr[data-job]')];
f.oninput = () => {
  const t = f.value.toLowerCase();
  for (const r of rows)
    r.hidden = !(r.dataset.job.toLowerCase().includes(t) ||
      r.dataset.desc.toLowerCase().includes(t));
};
"""


def esc(s):
    return html.escape(str(s if s is not None else ""), quote=True)


def badge(s):
    word, icon, cls = WORDS.get(s, (str(s).lower(), "\u2022", "st-off"))
    return ('<span class="badge %s" data-status="%s"><span aria-hidden="true">'
            '%s </span>%s</span>' % (cls, esc(s), icon, esc(word)))


def when(t):
    if not t:
        return '<span class="muted">\u2014</span>'
    return ('<span><time datetime="%s">%s</time><span class="sub">%s UTC'
            '</span></span>' % (esc(t), esc(t[:19].replace("T", " ")),
                                esc(t[:19].replace("T", " "))))


def row(j):
    last = j.get("last_run")
    status = []
    if not j.get("enabled", True):
        status.append(badge("disabled"))
    if j.get("running"):
        status.append(badge("STARTED"))
    if j.get("paused"):
        status.append(badge("paused"))
    status.append('<span class="muted">last:</span>' + badge(last["status"])
                  if last else badge("never"))
    desc = j.get("description") or ""
    return ('<tr data-job="%s" data-desc="%s"><td><a href="#/job/%s">%s</a>'
            '<span class="sub">%s</span></td><td><div class="badges">%s</div>'
            '</td><td class="mono">%s</td><td>%s</td><td>%s</td></tr>' % (
                esc(j["name"]), esc(desc), esc(j["name"]), esc(j["name"]),
                esc(desc), "".join(status), esc(j.get("schedule")),
                when(j.get("next_run")), when(last and last.get("ended"))))


def page(jobs):
    head = "".join('<th scope="col">%s</th>' % t for t in (
        "Name", "Status", "Schedule", "Next run (job\u2019s zone / yours)",
        "Last run"))
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<title>distcron floor</title><link rel="icon" href="data:,">'
            '<link rel="stylesheet" href="style.css">'
            '<script src="floor.js" defer></script></head><body>'
            '<main id="main"><h1>Jobs</h1><div class="toolbar">'
            '<label for="job-filter">Filter<input id="job-filter" '
            'type="search"></label></div><table aria-label="Jobs"><thead><tr>'
            '%s</tr></thead><tbody>\n%s\n</tbody></table></main></body>'
            '</html>\n' % (head, "\n".join(row(j) for j in jobs)))


def main():
    jobs = json.load(open(sys.argv[1]))["jobs"]
    for name, rows in (("index.html", jobs), ("page100.html", jobs[:100])):
        with open(os.path.join(sys.argv[2], name), "w") as f:
            f.write(page(rows))
    with open(os.path.join(sys.argv[2], "floor.js"), "w") as f:
        f.write(FILTER)


if __name__ == "__main__":
    main()
