// Expand an iCalendar feed with ical.js (the engine of Thunderbird and of Nextcloud's calendar).
// The feed comes on standard input; prints a JSON list of [UTC start, SUMMARY, UID], one per
// occurrence starting within the years given as arguments, with EXDATEs and overrides applied.
import ICAL from "ical.js";

const [firstYear, lastYear] = process.argv.slice(2).map(Number);
const text = await new Promise((resolve) => {
  let data = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => { data += chunk; });
  process.stdin.on("end", () => resolve(data));
});
const calendar = new ICAL.Component(ICAL.parse(text));
for (const vtimezone of calendar.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(vtimezone);
}

function utc(time) {
  if (time.isDate) {
    return time.toString();
  }
  const when = time.convertToZone(ICAL.Timezone.utcTimezone);
  return when.toString().slice(0, 16) + "Z";
}

const events = calendar.getAllSubcomponents("vevent").map((component) => new ICAL.Event(component));
const masters = new Map();
for (const event of events) {
  if (!event.isRecurrenceException()) {
    masters.set(event.uid, event);
  }
}
for (const event of events) {
  if (event.isRecurrenceException() && masters.has(event.uid)) {
    masters.get(event.uid).relateException(event);
  }
}

const found = [];
for (const event of masters.values()) {
  if (!event.isRecurring()) {
    found.push([utc(event.startDate), event.summary, event.uid]);
    continue;
  }
  const iterator = event.iterator();
  for (let next = iterator.next(); next && next.year <= lastYear; next = iterator.next()) {
    if (next.year < firstYear) {
      continue;
    }
    const details = event.getOccurrenceDetails(next);
    found.push([utc(details.startDate), details.item.summary, event.uid]);
  }
}
found.sort();
process.stdout.write(JSON.stringify(found));
