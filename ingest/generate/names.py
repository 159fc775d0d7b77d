"""Static vocabularies of the sample data (names, domains, texts)."""

FIRST = """James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan
Joseph Jessica Thomas Sarah Christopher Karen Charles Lisa Daniel Nancy Matthew Betty Anthony Sandra Mark Margaret
Donald Ashley Steven Kimberly Andrew Emily Paul Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George
Deborah Timothy Stephanie Ronald Rebecca Jason Sharon Edward Laura Jeffrey Cynthia Ryan Dorothy Jacob Amy Gary Kathleen
Nicholas Angela Eric Shirley Jonathan Emma Stephen Brenda Larry Pamela Justin Nicole Scott Anna Brandon Samantha
Benjamin Katherine Samuel Christine Gregory Debra Alexander Rachel Patrick Carolyn Frank Janet Raymond Maria Jack
Olivia Dennis Heather Jerry Helen Tyler Catherine Aaron Diane Jose Julie Adam Victoria Nathan Joyce Henry Lauren
Zachary Kelly Douglas Christina Peter Ruth Kyle Joan Noah Virginia Ethan Judith Jeremy Evelyn Christian Hannah Walter
Andrea Keith Megan Austin Cheryl Roger Jacqueline Terry Madison Sean Teresa Gerald Abigail Carl Sophia Dylan Martha
Harold Sara Jordan Gloria Jesse Janice Bryan Kathryn Lawrence Ann Arthur Isabella Gabriel Judy Bruce Charlotte Logan
Julia Billy Grace Joe Amber Alan Alice Juan Jean Elijah Denise Willie Frances Albert Danielle Wayne Marilyn Randy
Natalie Mason Beverly Vincent Diana Liam Brittany Roy Theresa Bobby Kayla Caleb Alexis Bradley Doris Russell Lori
Priya Wei Mohammed Aisha Hiroshi Yuki Carlos Sofia Mateo Lucia Ahmed Fatima Chen Mei Ravi Ananya Olga Dmitri Kwame
Amara Sven Ingrid Luca Giulia Pierre Camille""".split()

LAST = """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson
Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker
Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter
Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers
Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez
Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell
Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan
Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran
Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells
Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder
Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice
Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold
Pierce Vazquez Hansen Peters Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley
Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston Matthews Pena Richards Contreras Willis Carpenter Lawrence
Sandoval O'Brien O'Connor McCarthy D'Angelo Nakamura Tanaka Sato Kowalski Novak Larsen Johansson Rossi Bianchi Dubois
Moreau Müller Okafor Mensah Singh Sharma Gupta Wang Zhang Liu Ivanov Petrov""".split()
# keep everything ASCII: swap the umlaut
LAST = [x.replace("ü", "u") for x in LAST]

# primary (personal) e-mail domains with weights
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com",
           "protonmail.com", "comcast.net", "me.com", "live.com", "msn.com", "att.net"]
DOMAIN_P = [38, 12, 10, 8, 8, 3, 3, 3, 2, 2, 1, 1]
# second (work) addresses live on other domains, so they never equal a primary one
WORK_DOMAINS = ["initech.com", "globex.com", "umbrella-corp.com", "hooli.io", "vandelay.com",
                "stark-industries.com", "wayne-enterprises.com", "soylent.co", "tyrell.io", "cyberdyne.net"]

US_AREA = [201, 202, 203, 205, 206, 207, 208, 212, 213, 214, 215, 216, 217, 301, 303, 304, 305, 310, 312, 313,
           314, 315, 317, 347, 404, 407, 408, 412, 415, 416, 503, 504, 512, 602, 608, 612, 614, 617, 619, 626,
           646, 650, 678, 702, 703, 704, 713, 718, 720, 732, 757, 773, 786, 801, 813, 816, 832, 858, 917, 919]

AGENTS = ["Alex Morgan", "Jamie Lee", "Taylor Brooks", "Jordan Blake", "Casey Rivera", "Riley Chen",
          "Morgan Patel", "Avery Kim", "Quinn Foster", "Drew Santos", "Reese Walker", "Skyler Hughes",
          "Cameron Diaz", "Harper Nguyen", "Rowan Price", "Emerson Gray", "Finley Ward", "Hayden Cole",
          "Parker Reed", "Sawyer Ellis"]
GROUPS = [(360001234501, "Tier 1"), (360001234502, "Billing"), (360001234503, "Technical"), (360001234504, "VIP")]

# (category, type or None, subject, description, tags)
TICKET_TEMPLATES = [
    ("billing", "question", "Question about my invoice", "Hi, I was charged twice this month. Can you check my invoice?", "billing,invoice"),
    ("billing", "incident", "Refund request", "I cancelled within the trial period but was still charged. I'd like a refund, please.", "billing,refund"),
    ("billing", "question", "How do I update my credit card?", "My card expired. Where do I enter the new one?", "billing,payment_method"),
    ("billing", "task", "Please send a VAT invoice", "Our accounting team needs an invoice with our VAT number.\nThanks!", "billing,invoice,vat"),
    ("account", "question", "Can't log in", "I keep getting \"invalid password\" even after resetting it.", "login,account"),
    ("account", "question", "Change account owner", "Our admin left the company; how do we transfer ownership?", "account,admin"),
    ("account", "incident", "Two-factor code not arriving", "The SMS code for 2FA never arrives. I'm locked out.", "login,2fa"),
    ("bug", "incident", "Dashboard not loading", "The dashboard shows a blank page since this morning (Chrome, Windows).", "bug,dashboard"),
    ("bug", "problem", "Export to CSV is broken", "Exports stop at 10,000 rows and the file is cut off.", "bug,export"),
    ("bug", "incident", "Error 500 when saving a survey", "Saving a survey fails with \"Internal Server Error\".", "bug,surveys"),
    ("bug", "incident", "Emails are not being sent", "None of our scheduled emails went out yesterday.", "bug,email"),
    ("bug", "problem", "Mobile app crashes on startup", "After the last update the iOS app crashes right away.", "bug,mobile"),
    ("howto", "question", "How do I import contacts?", "What format should the CSV have to import contacts?", "howto,import"),
    ("howto", "question", "Setting up the Slack integration", "Where do I find the webhook URL for Slack?", "howto,integrations"),
    ("howto", "question", "API rate limits", "What are the rate limits of the REST API? We hit 429s.", "howto,api"),
    ("howto", None, "Question", "Quick question about reports - can I schedule them weekly?", "howto,reports"),
    ("shipping", "question", "Where is my order?", "I ordered the hardware kit two weeks ago and haven't received it.", "shipping,order_status"),
    ("shipping", "incident", "Damaged device received", "The scanner arrived with a cracked screen. Photos attached.", "shipping,damaged"),
    ("feature", "task", "Feature request: dark mode", "Would love a dark mode for the web app!", "feature_request"),
    ("feature", "task", "Feature request: more chart types", "Please add funnel charts to the reports.", "feature_request,reports"),
    ("cancel", "question", "I want to cancel my subscription", "Please cancel our plan at the end of the billing period.", "cancellation"),
    ("cancel", "question", "Downgrade to Starter", "We'd like to move from Pro to Starter next month.", "cancellation,downgrade"),
    ("onboarding", "question", "Getting started help", "We just signed up. Is there an onboarding call available?", "onboarding"),
    ("onboarding", "task", "Add more seats", "Please add 5 more seats to our account.", "onboarding,seats"),
]

SURVEY_COMMENTS = {
    "promoter": [
        "Great product, easy to use.",
        "Support was fast and friendly!",
        "Love the new dashboard, keep it up",
        "Everything just works. Setup took 10 minutes, and the team loved it.",
        'The "quick reports" feature saves me hours every week.',
        "Fantastic onboarding.\nOur rep answered every question.",
        "Best tool we've used for CX, hands down",
        "Reliable, fair price, good support",
    ],
    "passive": [
        "Good overall but a bit pricey.",
        "Works fine. Some features are hard to find",
        "OK product, reporting could be better",
        "Decent, although the mobile app is slow.",
        'Mostly happy; the "export" button is hidden.',
        "It does the job.\nNot more, not less.",
        "Support took a while, but solved it",
    ],
    "detractor": [
        "Too expensive for what it does.",
        "I waited 3 days for an answer from support!!",
        "The app keeps crashing, and nobody fixes it",
        'Billing was wrong twice. "Sorry" is not enough.',
        "Hard to use.\nThe interface is confusing.\nI gave up.",
        "Missing basic features like dark mode, bulk edit",
        "Cancelled because of the price increase",
    ],
}

LANDING_PAGES = ["/", "/pricing", "/features", "/blog/how-to-measure-nps", "/blog/customer-journey-mapping",
                 "/integrations", "/signup", "/contact", "/docs/getting-started", "/case-studies", "/lp/demo",
                 "/product/surveys", "/product/helpdesk", "/about"]
EMAIL_LINK_PAGES = ["/pricing", "/blog/customer-journey-mapping", "/features", "/webinars", "/product/surveys",
                    "/case-studies", "/offers"]
PRODUCTS_FIRST = ["Starter Plan", "Pro Plan", "Business Plan", "Enterprise Plan"]
PRODUCTS_FIRST_P = [35, 40, 18, 7]
PRODUCTS_REPEAT = ["Add-on: Extra Seats", "Annual Renewal", "Upgrade to Business", "Onboarding Package",
                   "Hardware Kit", "Premium Support"]
