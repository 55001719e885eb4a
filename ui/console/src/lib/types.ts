// The console API's shapes (crates/server/src/staff/desk.rs and routes/console.rs).

export type Topic = "unrecognized_charge" | "insurance_should_have_paid" | "already_paid" | "itemized_bill" | "payment_help" | "other";
export type Status = "open" | "waiting_on_member" | "answered" | "closed";

export type InboxItem = {
  id: string;
  reference: string;
  topic: Topic;
  status: Status;
  member_id: string;
  member_name: string;
  bill_id: string | null;
  assigned_to: string | null;
  assigned_name: string | null;
  waiting_since: string | null;
  created_at: string;
  updated_at: string;
};

export type Attachment = { id: string; file_name: string; kind: "pdf" | "jpeg" | "png"; size: number };
export type Message = {
  id: string;
  author: "member" | "staff";
  staff_name?: string | null;
  body: string;
  sent_at: string;
  attachments: Attachment[];
};
export type Note = { id: string; staff_name: string; body: string; created_at: string };
export type Thread = InboxItem & {
  conversation: { id: string; reference: string; bill_id?: string; line?: number; messages: Message[] };
  notes: Note[];
};

export type StaffEntry = { id: string; name: string; role: "agent" | "supervisor"; disabled: boolean };

export type MemberSummary = { member_id: string; first_name: string; last_name: string; date_of_birth: string; email: string | null };

export type Bill = {
  id: string;
  statement_number: string;
  provider: string;
  due_date: string;
  amount_due: string;
  balance: string;
  payable?: string;
  status?: string;
};
export type Payment = {
  id: string;
  status: string;
  amount: string;
  confirmation_number: string;
  created_at: string;
  payment_method: { type: string; brand?: string; last4: string };
};
export type Autopay = { payment_method: { type: string; brand?: string; last4: string }; amount: unknown; timing: unknown };
export type PaymentPlan = { id: string; number: string; status: string; balance: string; instalment?: string };

export type MemberView = {
  member: MemberSummary;
  reason: string | null;
  bills: Bill[];
  payments: Payment[];
  autopay: Autopay | null;
  payment_plans: PaymentPlan[];
  conversations: InboxItem[];
};

export type Figures = {
  days: number;
  unassigned_waiting: number;
  oldest_waiting_since: string | null;
  started: number;
  answered: number;
  first_response_median_minutes: number | null;
  first_response_p90_minutes: number | null;
  agents: { staff_id: string; name: string; role: string; disabled: boolean; active: number; waiting: number; replies: number }[];
};

export type AuditEntry = {
  seq: number;
  at: string;
  staff: string;
  member_id: string | null;
  action: string;
  detail: string;
  origin: string;
  reason: string | null;
};
