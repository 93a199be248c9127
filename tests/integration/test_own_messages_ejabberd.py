"""What the user writes from another client of their legacy account, with
ejabberd as the host server (README "Your own messages from other
clients"): Debian's ejabberd 23.01 grants the message permission in
urn:xmpp:privilege:1 and hosts the legacy XMPP network too
(legacy.localhost, reached through prpl-jabber with Debian's
purple-xmpp-carbons plugin).  The phone, a second client of the legacy
account, writes to a legacy contact: each resource of the user gets a
<sent/> carbon, before the contact's answer, and what the user sends
through the gateway does not come back (the scenario of test_own_messages
with Prosody)."""

from ejabberd import Ejabberd, available
from harness import OTHER_DOMAIN, USER_DOMAIN, Skip, setup_env
from legacy_servers import LEGACY_DOMAIN, XMPP_GW, Items, xmpp_purplegate_overrides
from test_own_messages import User, conversation, not_echoed, sent_carbon

GW = XMPP_GW
TIMEOUT = 150


def setup(name):
    if not available():
        raise Skip("ejabberd is not installed: tools/install-deps installs it")

    def start(env):
        env.prosody = Ejabberd(env.tmp / "ejabberd", component=GW, hosts=(USER_DOMAIN, OTHER_DOMAIN, LEGACY_DOMAIN),
                               privileges=("message",)).start()
        settings = xmpp_purplegate_overrides(env.prosody)
        settings["legacy"]["plugins"] = "core-riba-carbons"
        env.start_purplegate(settings, jid=GW)

    return setup_env(name, start)


def test_sent_carbon_through_ejabberd(env):
    user = User(env, USER_DOMAIN)
    t = Items(env)

    def carbon(body):
        return sent_carbon(user.bare, user.dave_jid, body)

    with t.item("own message as a sent carbon, in order"):
        conversation(user, carbon, "e1")
    with t.item("no echo"):
        not_echoed(user, carbon)
    t.done()
