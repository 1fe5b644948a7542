package web

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/auth"
)

// sessionCookie carries the session token; preCookie the sign-in form's
// double-submit token before there is a session.
const (
	sessionCookie = "fw_session"
	preCookie     = "fw_pre"
)

// reqCtx is what a page handler knows of the request: the language, the
// signed-in user, their scope and session token.
type reqCtx struct {
	lang  string
	user  *funnelwatch.User
	scope auth.Scope
	token string
}

// guard rejects cross-origin unsafe requests (Sec-Fetch-Site / Origin,
// the standard library's CrossOriginProtection): the first line against
// CSRF, before the form token.
func (s *Server) guard(h http.Handler) http.Handler {
	return s.cop.Handler(h)
}

// authenticate finds the session of the request; nil when none.
func (s *Server) authenticate(r *http.Request) (*reqCtx, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	u, err := s.Sessions.Authenticate(r.Context(), c.Value, s.now())
	if funnelwatch.ErrorCode(err) == funnelwatch.EUNAUTHORIZED {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &reqCtx{user: &u, scope: auth.ScopeOf(s.Funnel, u), token: c.Value}, nil
}

// page serves a page to a signed-in user, or sends the browser to sign in.
func (s *Server) page(h func(http.ResponseWriter, *http.Request, *reqCtx)) http.Handler {
	return s.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.authenticate(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if c == nil {
			http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		c.lang = s.language(w, r)
		w.Header().Set("Cache-Control", "no-store")
		h(w, r, c)
	}))
}

// action serves a POST form of a signed-in user whose form token is the
// session's; anything else is refused.
func (s *Server) action(h func(http.ResponseWriter, *http.Request, *reqCtx)) http.Handler {
	return s.actionUpTo(64<<10, h)
}

// actionUpTo is action for a form whose body may be up to limit bytes
// (a regulations file to check).
func (s *Server) actionUpTo(limit int64, h func(http.ResponseWriter, *http.Request, *reqCtx)) http.Handler {
	return s.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		c, err := s.authenticate(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if c == nil {
			http.Redirect(w, r, "/signin", http.StatusSeeOther)
			return
		}
		c.lang = s.language(w, r)
		if !auth.ValidCSRF(c.token, r.PostFormValue("csrf")) {
			s.render(w, r, c, http.StatusForbidden, "error.html", view{Title: "403", Data: tr(c.lang, "err.forbidden")})
			return
		}
		h(w, r, c)
	}))
}

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure(r)})
}

// secure reports whether cookies are sent only over HTTPS: under TLS,
// or behind a TLS proxy (SecureCookies).
func (s *Server) secure(r *http.Request) bool { return s.SecureCookies || r.TLS != nil }

type signinData struct {
	UserID string
	Next   string
	Pre    string
}

func (s *Server) signinPage(w http.ResponseWriter, r *http.Request) {
	c := &reqCtx{lang: s.language(w, r)}
	s.showSignin(w, r, c, http.StatusOK, r.URL.Query().Get("user"), "")
}

func (s *Server) showSignin(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, userID, msg string) {
	pre := auth.NewToken()
	s.setCookie(w, r, preCookie, pre, 3600)
	if userID == "" && len(s.Demo) > 0 {
		userID = s.Demo[0].User.ID
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, c, status, "signin.html", view{Title: tr(c.lang, "signin.title"), Error: msg, Demo: s.Demo,
		Data: signinData{UserID: userID, Next: safeNext(r.FormValue("next")), Pre: pre}})
}

// safeNext keeps a redirect after sign-in on this site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func (s *Server) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	c := &reqCtx{lang: s.language(w, r)}
	pre, err := r.Cookie(preCookie)
	if err != nil || pre.Value == "" || r.PostFormValue("pre") != pre.Value {
		s.showSignin(w, r, c, http.StatusForbidden, r.PostFormValue("user"), tr(c.lang, "signin.expired"))
		return
	}
	userID := strings.TrimSpace(r.PostFormValue("user"))
	token, sess, err := s.Sessions.SignIn(r.Context(), userID, r.PostFormValue("password"), clientAddr(r), s.now())
	switch {
	case errors.Is(err, auth.ErrTooManyAttempts):
		s.showSignin(w, r, c, http.StatusTooManyRequests, userID, tr(c.lang, "signin.slow"))
		return
	case errors.Is(err, auth.ErrBadCredentials):
		s.showSignin(w, r, c, http.StatusUnauthorized, userID, tr(c.lang, "signin.bad"))
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.setCookie(w, r, preCookie, "", -1)
	s.setCookie(w, r, sessionCookie, token, int(sess.ExpiresAt.Sub(sess.CreatedAt).Seconds()))
	s.logger().Info("signed in", "user", sess.UserID)
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (s *Server) signout(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if err := s.Sessions.SignOut(r.Context(), c.token); err != nil {
		s.fail(w, r, err)
		return
	}
	s.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// clientAddr is the address the brake counts failures of: the peer's IP
// (a proxy in front makes every client one; the per-user count still
// holds).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
