"""The priority and service-level engine (tables 6, 7 and 8 of the governance document).

* `durations`: `10m`, `4h`, `3.5d`, `1.5w` -> working time in a calendar;
* `clock`: elapsed working time, deadlines and the ledger, with pauses;
* `policy`: the service-level policy in force and the priority matrix;
* `incident`: the status of every milestone and eCAB duty of one incident;
* `evidence`: milestone times checked against when git first recorded them.

Everything here is pure: callers pass records, calendars and `now`.
"""
