package web

import (
	"net/http"
	"net/url"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/auth"
)

// adminData is the admin page: the team of the regulations file with
// their sign-in state, and the API tokens.
type adminData struct {
	Users  []adminUser
	Tokens []*funnelwatch.APIToken
	// Issued is the token just issued, shown once.
	Issued     string
	IssuedName string
	// Done names what the last form did; Problem what it could not.
	Done, Problem string
	MinPassword   int
}

type adminUser struct {
	funnelwatch.User
	funnelwatch.Credential
}

// adminOnly serves h to an admin and 404 to anyone else, as a page
// outside the scope.
func (s *Server) adminOnly(h func(http.ResponseWriter, *http.Request, *reqCtx)) func(http.ResponseWriter, *http.Request, *reqCtx) {
	return func(w http.ResponseWriter, r *http.Request, c *reqCtx) {
		if c.user == nil || c.user.Role != funnelwatch.RoleAdmin {
			s.notFound(w, r, c)
			return
		}
		h(w, r, c)
	}
}

// adminPage shows the team and the API tokens (to an admin: adminOnly).
func (s *Server) adminPage(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	q := r.URL.Query()
	d := adminData{Done: q.Get("done"), Problem: q.Get("problem")}
	s.renderAdmin(w, r, c, http.StatusOK, d)
}

func (s *Server) renderAdmin(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, d adminData) {
	d.MinPassword = auth.MinPasswordLen
	err := s.Store.View(r.Context(), s.Workspace, func(tx funnelwatch.ReadTx) error {
		creds, err := tx.Credentials(r.Context(), s.now())
		if err != nil {
			return err
		}
		byUser := map[string]funnelwatch.Credential{}
		for _, cr := range creds {
			byUser[cr.UserID] = cr
		}
		for _, u := range s.Funnel.Users {
			d.Users = append(d.Users, adminUser{User: u, Credential: byUser[u.ID]})
		}
		d.Tokens, err = tx.APITokens(r.Context())
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, c, status, "admin.html", view{Nav: "admin", Title: tr(c.lang, "admin.title"), Data: d})
}

// adminDone sends the admin back to the page, saying what happened.
func adminDone(w http.ResponseWriter, r *http.Request, key, value string) {
	http.Redirect(w, r, "/admin?"+url.Values{key: {value}}.Encode(), http.StatusSeeOther)
}

// setPassword sets a user's password (a new one signs their browsers
// out).
func (s *Server) setPassword(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	id := r.PathValue("id")
	err := s.Sessions.SetPassword(r.Context(), id, r.PostFormValue("password"), s.now())
	switch code := funnelwatch.ErrorCode(err); {
	case code == funnelwatch.ENOTFOUND:
		s.notFound(w, r, c)
	case code == funnelwatch.EINVALID:
		adminDone(w, r, "problem", "password:"+id)
	case err != nil:
		s.fail(w, r, err)
	default:
		s.logger().Info("password set", "user", id, "by", c.user.ID)
		adminDone(w, r, "done", "password:"+id)
	}
}

// signOutUser ends every session of a user.
func (s *Server) signOutUser(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	id := r.PathValue("id")
	if _, ok := s.Funnel.User(id); !ok {
		s.notFound(w, r, c)
		return
	}
	err := s.Store.Update(r.Context(), s.Workspace, func(tx funnelwatch.Tx) error {
		_, err := tx.DeleteUserSessions(r.Context(), id)
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.logger().Info("signed out everywhere", "user", id, "by", c.user.ID)
	if id == c.user.ID {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	adminDone(w, r, "done", "signout:"+id)
}

// issueToken makes an API token and shows it, once.
func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if s.Tokens == nil {
		s.notFound(w, r, c)
		return
	}
	name := r.PostFormValue("name")
	token, rec, err := s.Tokens.Issue(r.Context(), name, c.user.ID, s.now())
	switch {
	case funnelwatch.ErrorCode(err) == funnelwatch.EINVALID:
		s.renderAdmin(w, r, c, http.StatusBadRequest, adminData{Problem: "token"})
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.logger().Info("API token issued", "token", rec.ID, "name", rec.Name, "by", c.user.ID)
	s.renderAdmin(w, r, c, http.StatusOK, adminData{Issued: token, IssuedName: rec.Name})
}

// revokeToken ends an API token.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if s.Tokens == nil {
		s.notFound(w, r, c)
		return
	}
	id := r.PathValue("id")
	err := s.Tokens.Revoke(r.Context(), id, s.now())
	switch {
	case funnelwatch.ErrorCode(err) == funnelwatch.ENOTFOUND:
		s.notFound(w, r, c)
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.logger().Info("API token revoked", "token", id, "by", c.user.ID)
	adminDone(w, r, "done", "revoked:"+id)
}
