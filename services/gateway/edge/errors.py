"""The root of the gateway's errors, and the family of frames that are not their protocol.

Every error the gateway raises is a GatewayError, translated at the boundary it reaches: a
protocol's own error frame or close code on a socket, the protocol's error body on its HTTP
routes (protocols/shapes.py), an RFC 9457 problem on the admin API and pages (problems.py).

    GatewayError
    ├── BadFrame            a client's frame is not its protocol
    │   ├── PhoenixFrameError   protocols/aida/wire.py
    │   ├── BesserFrameError    protocols/besser/wire.py
    │   └── TypedFrameError     protocols/xparo/typed.py
    ├── BridgeError         NATS did not take or answer in time (raised in bus/bridge.py)
    │   └── RateLimited         over a rate (edge/limits.py)
    ├── Problem             an HTTP problem response (edge/problems.py)
    ├── HeadRefused         a request head over a limit (edge/http_limits.py)
    ├── Gone                the socket went during its handshake (edge/wsserver.py)
    ├── Stopping            this replica is stopping (bus/resume.py)
    ├── EventRefused        an AIDA event not done (protocols/aida/events.py)
    ├── TooLarge            an AIDA image over the cap (protocols/aida/images.py)
    ├── RsvpError           an RSVP.ai query not answered (protocols/rsvp/wire.py)
    │   └── Busy                its uid's previous turn still runs (protocols/rsvp/routes.py)
    ├── CommandError        an XPARO command not done (protocols/xparo/refusals.py)
    ├── DialectError        a robot client's message not usable (protocols/xparo/robot_client.py)
    ├── ScheduleRefused     a schedule command refused (protocols/xparo/schedule.py)
    └── UploadRefused       an AIML upload not readable (aiml_files.py)
"""


class GatewayError(Exception):
    """Something the gateway will not or cannot do; the message is for the client."""


class BadFrame(GatewayError):
    """A client's frame is not its protocol; each protocol's subclass carries what its error
    answer needs."""


class BridgeError(GatewayError):
    """The broker could not take or answer a message in time."""
