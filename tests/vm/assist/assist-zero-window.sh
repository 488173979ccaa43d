#!/bin/sh
# DESIGN.md's sequence with kernel assistance on and NO daemon: every
# assisted range and thread carries the intent right after each write
# returns (kernel readback, interposed get_mempolicy, new pages placed).
export NUMAKEEP_SOCKET=/run/numakeep-none/numakeepd.sock
exec nk-assist-check zero-window
