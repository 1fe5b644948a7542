package engine

import "time"

// ActionView is an action as the backtest prints it (DESIGN §4.3) and as
// the outbox keeps it: times in the company's timezone, RFC 3339.
type ActionView struct {
	Type       string   `json:"type"`
	At         string   `json:"at"`
	DealID     string   `json:"deal_id,omitempty"`
	Rule       string   `json:"rule"`
	Trigger    string   `json:"trigger"`
	Key        string   `json:"key"`
	TaskID     string   `json:"task_id,omitempty"`
	Assignee   string   `json:"assignee,omitempty"`
	Text       string   `json:"text,omitempty"`
	Due        string   `json:"due,omitempty"`
	Kind       string   `json:"kind,omitempty"`
	To         string   `json:"to,omitempty"`
	NewDealID  string   `json:"new_deal_id,omitempty"`
	Recipients []string `json:"recipients,omitempty"`
	Template   string   `json:"template,omitempty"`
	Channel    string   `json:"channel,omitempty"`
	URL        string   `json:"url,omitempty"`
}

// View renders the action with times in loc.
func (x *Action) View(loc *time.Location) ActionView {
	j := ActionView{Type: string(x.Type), At: x.At.In(loc).Format(time.RFC3339), DealID: x.DealID, Rule: x.Rule,
		Trigger: string(x.Trigger), Key: x.Key, TaskID: x.TaskID, Assignee: x.Assignee, Text: x.Text, Kind: x.Kind,
		To: x.To, NewDealID: x.NewDealID, Recipients: x.Recipients, Template: x.Template, Channel: x.Channel, URL: x.URL}
	if x.Due != nil {
		j.Due = x.Due.In(loc).Format(time.RFC3339)
	}
	return j
}

// ActionViews renders actions in the order given.
func ActionViews(xs []*Action, loc *time.Location) []ActionView {
	out := make([]ActionView, 0, len(xs))
	for _, x := range xs {
		out = append(out, x.View(loc))
	}
	return out
}
