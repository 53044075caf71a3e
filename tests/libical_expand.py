"""Expand an iCalendar feed with libical (the engine of Evolution and many other clients).

Run with Debian's /usr/bin/python3 (packages gir1.2-ical-3.0 and python3-gi): the feed comes on
standard input; each line printed is "UTC start<TAB>SUMMARY" of one occurrence, in start order,
with EXDATEs removed and RECURRENCE-ID overrides applied, within the years given as arguments.
"""

import sys

import gi

gi.require_version("ICalGLib", "3.0")
from gi.repository import ICalGLib  # noqa: E402

UTC = ICalGLib.Timezone.get_utc_timezone()


def utc_text(when):
    copy = when.clone()
    copy.convert_to_zone_inplace(UTC)
    if copy.is_date():
        return f"{copy.get_year():04d}-{copy.get_month():02d}-{copy.get_day():02d}"
    return (
        f"{copy.get_year():04d}-{copy.get_month():02d}-{copy.get_day():02d}"
        f"T{copy.get_hour():02d}:{copy.get_minute():02d}Z"
    )


def main():
    first_year, last_year = int(sys.argv[1]), int(sys.argv[2])
    calendar = ICalGLib.Component.new_from_string(sys.stdin.read())
    events = []
    event = calendar.get_first_component(ICalGLib.ComponentKind.VEVENT_COMPONENT)
    while event is not None:
        events.append(event)
        event = calendar.get_next_component(ICalGLib.ComponentKind.VEVENT_COMPONENT)
    overrides = {}
    for event in events:
        prop = event.get_first_property(ICalGLib.PropertyKind.RECURRENCEID_PROPERTY)
        if prop is not None:
            recurrence = prop.get_recurrenceid()
            tzid = prop.get_parameter_as_string("TZID")
            if tzid:
                recurrence.set_timezone(calendar.get_timezone(tzid))
            overrides[(event.get_uid(), utc_text(recurrence))] = event
    found = []
    for event in events:
        if event.get_first_property(ICalGLib.PropertyKind.RECURRENCEID_PROPERTY) is not None:
            found.append((utc_text(event.get_dtstart()), event.get_summary()))
            continue
        start = event.get_dtstart()
        rule_property = event.get_first_property(ICalGLib.PropertyKind.RRULE_PROPERTY)
        if rule_property is None:
            found.append((utc_text(start), event.get_summary()))
            continue
        excluded = set()
        exdate = event.get_first_property(ICalGLib.PropertyKind.EXDATE_PROPERTY)
        while exdate is not None:
            value = exdate.get_exdate()
            tzid = exdate.get_parameter_as_string("TZID")
            if tzid:
                value.set_timezone(calendar.get_timezone(tzid))
            excluded.add(utc_text(value))
            exdate = event.get_next_property(ICalGLib.PropertyKind.EXDATE_PROPERTY)
        iterator = ICalGLib.RecurIterator.new(rule_property.get_rrule(), start)
        occurrence = iterator.next()
        while occurrence is not None and not occurrence.is_null_time() and occurrence.get_year() <= last_year:
            occurrence.set_timezone(start.get_timezone())
            key = utc_text(occurrence)
            if occurrence.get_year() >= first_year and key not in excluded and (event.get_uid(), key) not in overrides:
                found.append((key, event.get_summary()))
            occurrence = iterator.next()
    for start, summary in sorted(found):
        print(f"{start}\t{summary}")


main()
