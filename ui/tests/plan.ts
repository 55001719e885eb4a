// The demo plan's facts, as `plan` answers them.
import type { PlanInfo_Serialize } from "../src/lib/bindings";

export const PLAN: PlanInfo_Serialize = {
  name: "Carebill Demo Health Plan",
  member_services: {
    phone: "1-800-555-0142",
    tty: "711",
    hours: { en: "Monday to Friday, 8 a.m. to 6 p.m. Pacific time", es: "de lunes a viernes, de 8 a.m. a 6 p.m., hora del Pacífico" },
  },
  language_assistance: [
    { lang: "en", text: "ATTENTION: If you speak another language, language assistance services, free of charge, are available to you. Call 1-800-555-0142 (TTY: 711)." },
    { lang: "es", text: "ATENCIÓN: si habla español, tiene a su disposición servicios gratuitos de asistencia lingüística. Llame al 1-800-555-0142 (TTY: 711)." },
  ],
  payment_plans: { min_balance: "100.00", min_monthly: "25.00", max_months: 24, notice_days: 3, misses_allowed: 2, max_pause_days: 60 },
  member_id: { pattern: "M[0-9]{9}", example: "M200000002" },
  time_zone: "America/Los_Angeles",
  utc_offsets: [],
};
