#!/bin/sh
# Workers that block every signal (pthread_sigmask, sigprocmask, sigwaitinfo
# and signalfd on full sets, an inline rt_sigprocmask), a program that owns
# the real-time signals: DESIGN.md's sequence keeps every reachable thread
# on the rule, with ($1 = assist) or without ($1 = plain) kernel assistance.
exec rt-signal-workers "$1"
