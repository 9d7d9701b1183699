"""UAV123 sub-sequences: which frame folder and 1-based frame range each annotation file covers.

Only the 51 entries whose name differs from their folder (one long video split into several
annotated sub-ranges) are listed; every other UAV123 sequence covers its whole folder from frame 1.
Data (frame numbers, not code) taken from the MIT-licensed got10k toolkit 0.1.3
(``got10k/datasets/uav123.json``, Copyright (c) 2019 Lianghua Huang), which matches the UAV123
release's ``configSeqs``. UAV123@10fps uses the same ranges divided by 3 (see ``uav123_start_frame``).
"""

from __future__ import annotations

# name -> (folder, first frame, last frame), 1-based, inclusive, at 30 fps
UAV123_SUBSEQUENCES: dict[str, tuple[str, int, int]] = {
    "bird1_1": ("bird1", 1, 253),
    "bird1_2": ("bird1", 775, 1477),
    "bird1_3": ("bird1", 1573, 2437),
    "car1_1": ("car1", 1, 751),
    "car1_2": ("car1", 751, 1627),
    "car1_3": ("car1", 1627, 2629),
    "car6_1": ("car6", 1, 487),
    "car6_2": ("car6", 487, 1807),
    "car6_3": ("car6", 1807, 2953),
    "car6_4": ("car6", 2953, 3925),
    "car6_5": ("car6", 3925, 4861),
    "car8_1": ("car8", 1, 1357),
    "car8_2": ("car8", 1357, 2575),
    "car16_1": ("car16", 1, 415),
    "car16_2": ("car16", 415, 1993),
    "group1_1": ("group1", 1, 1333),
    "group1_2": ("group1", 1333, 2515),
    "group1_3": ("group1", 2515, 3925),
    "group1_4": ("group1", 3925, 4873),
    "group2_1": ("group2", 1, 907),
    "group2_2": ("group2", 907, 1771),
    "group2_3": ("group2", 1771, 2683),
    "group3_1": ("group3", 1, 1567),
    "group3_2": ("group3", 1567, 2827),
    "group3_3": ("group3", 2827, 4369),
    "group3_4": ("group3", 4369, 5527),
    "person2_1": ("person2", 1, 1189),
    "person2_2": ("person2", 1189, 2623),
    "person4_1": ("person4", 1, 1501),
    "person4_2": ("person4", 1501, 2743),
    "person5_1": ("person5", 1, 877),
    "person5_2": ("person5", 877, 2101),
    "person7_1": ("person7", 1, 1249),
    "person7_2": ("person7", 1249, 2065),
    "person8_1": ("person8", 1, 1075),
    "person8_2": ("person8", 1075, 1525),
    "person12_1": ("person12", 1, 601),
    "person12_2": ("person12", 601, 1621),
    "person14_1": ("person14", 1, 847),
    "person14_2": ("person14", 847, 1813),
    "person14_3": ("person14", 1813, 2923),
    "person17_1": ("person17", 1, 1501),
    "person17_2": ("person17", 1501, 2347),
    "person19_1": ("person19", 1, 1243),
    "person19_2": ("person19", 1243, 2791),
    "person19_3": ("person19", 2791, 4357),
    "truck4_1": ("truck4", 1, 577),
    "truck4_2": ("truck4", 577, 1261),
    "uav1_1": ("uav1", 1, 1555),
    "uav1_2": ("uav1", 1555, 2377),
    "uav1_3": ("uav1", 2473, 3469),
}
