"""SSTrack training recipe (needs torch). May import sstrack_edge; sstrack_edge never imports this."""
